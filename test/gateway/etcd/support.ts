// Shared set-up of the etcd tests: a real etcd (test/helpers/etcd.ts), a real TypeScript
// runner whose `tag` plugin copies its conf into the request's x-tag header, two upstream
// servers that answer which of them served and the tag they got, a gateway on etcd behind
// node:http, and a plain etcd3 client for writing keys the way any APISIX tool would.
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import type { Test } from 'tap'
import { request } from 'undici'
import { withGateway } from '../../../adapters/http.js'
import { createExtPlugin, type ExtPlugin } from '../../../src/index.js'
import type { Gateway } from '../../../src/gateway/gateway.js'
import type { EtcdSourceOptions } from '../../../src/gateway/source/etcd.js'
import { createRunner, definePlugin, type Runner } from '../../../src/runner-server/index.js'
import { startEtcd, type EtcdServer } from '../../helpers/etcd.js'
import { recordingLogger, type LogEntry, type RecordingLogger } from '../../helpers/logger.js'

export const PREFIX = '/apisix'

export interface Upstream {
  readonly name: string
  readonly port: number
  readonly address: string
  close(): Promise<void>
}

export async function upstreamServer(name: string): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ server: name, url: req.url, tag: req.headers['x-tag'] ?? null })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.closeAllConnections() ?? server.close(() => resolve())),
  }
}

export const tagPlugin = definePlugin({
  name: 'tag',
  parseConf: (value) => value,
  requestFilter(conf, req) {
    req.headers.set('x-tag', conf)
  },
})

/** The plugins block of a route whose requests carry `x-tag: <tag>` to the upstream. */
export function tagged(tag: string): Record<string, unknown> {
  return { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: tag }] } }
}

export interface World {
  readonly etcd: EtcdServer
  readonly client: Etcd3
  readonly runner: Runner
  readonly socket: string
  readonly a: Upstream
  readonly b: Upstream
  readonly dir: string
  /** JSON.stringify(value) at `<prefix>/<path>`; resolves with the write's revision. */
  put(path: string, value: unknown): Promise<number>
  /** A raw value (not JSON-encoded) at `<prefix>/<path>`. */
  putRaw(path: string, text: string): Promise<number>
  del(path: string): Promise<number>
}

/** etcd, runner and upstreams for one test file, torn down when `t` ends. */
export async function world(t: Test): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-gw-'))
  const etcd = await startEtcd()
  const client = new Etcd3({ hosts: etcd.url })
  const runner = createRunner({ plugins: [tagPlugin] })
  const socket = join(dir, 'runner.sock')
  await runner.listen(`unix:${socket}`)
  const a = await upstreamServer('a')
  const b = await upstreamServer('b')
  t.teardown(async () => {
    client.close()
    await runner.close()
    await a.close()
    await b.close()
    await etcd.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const putRaw = async (path: string, text: string): Promise<number> => {
    const res = await client.put(`${PREFIX}/${path}`).value(text).exec()
    return Number(res.header.revision)
  }
  return {
    etcd,
    client,
    runner,
    socket,
    a,
    b,
    dir,
    putRaw,
    put: (path, value) => putRaw(path, JSON.stringify(value)),
    del: async (path) => Number((await client.delete().key(`${PREFIX}/${path}`).exec()).header.revision),
  }
}

export interface Served {
  readonly ext: ExtPlugin
  readonly gw: Gateway
  readonly url: string
  readonly logger: RecordingLogger
  /** Resolves once this gateway has applied `revision` (from the source's debug line). */
  applied(revision: number, ms?: number): Promise<void>
  /** The application's answer for unmatched requests is 404 JSON (withGateway's default). */
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; body: string }>
  close(): Promise<void>
}

/** A gateway on the world's etcd behind node:http; closed when `t` ends. */
export async function serveGateway(t: Test, w: World, options: Partial<EtcdSourceOptions> = {}, onEntry?: (entry: LogEntry) => void): Promise<Served> {
  let revision = 0
  const waiters: Array<{ revision: number; resolve: () => void }> = []
  const logger = recordingLogger((entry) => {
    onEntry?.(entry)
    const r = entry.fields.revision
    if (typeof r === 'number' && /^etcd: (applied revision|loaded|reloaded)/.test(entry.message)) {
      revision = Math.max(revision, r)
      for (const waiter of waiters.splice(0)) {
        if (waiter.revision <= revision) waiter.resolve()
        else waiters.push(waiter)
      }
    }
  })
  const ext = createExtPlugin({ runner: { socket: w.socket }, logger })
  const gw = ext.gateway({ etcd: { hosts: [w.etcd.url], prefix: PREFIX, backoff: { initial: 50, max: 500 }, ...options } })
  const server = http.createServer(withGateway(gw))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await gw.close()
    await ext.close()
  }
  t.teardown(close)
  return {
    ext,
    gw,
    url,
    logger,
    applied: (wanted, ms = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (revision >= wanted) return resolve()
        const timer = setTimeout(() => reject(new Error(`revision ${wanted} not applied in ${ms} ms (at ${revision})`)), ms)
        waiters.push({ revision: wanted, resolve: () => (clearTimeout(timer), resolve()) })
      }),
    get: async (path, headers = {}) => {
      const res = await request(`${url}${path}`, { headers })
      return { status: res.statusCode, body: await res.body.text() }
    },
    close,
  }
}

/** Polls `check` every 10 ms until it holds or `ms` passes. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
