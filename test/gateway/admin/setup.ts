// What the Admin API tests share: a real TypeScript runner on a Unix socket, an ExtPlugin, a
// local upstream server that says which one it is, a gateway mounted on node:http, its Admin
// API on a listener of its own, and an undici client for both.
import { mkdtempSync, rmSync } from 'node:fs'
import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { request, type Pool } from 'undici'
import { withGateway } from '../../../adapters/http.js'
import { createExtPlugin, type ExtPlugin } from '../../../src/index.js'
import type { Gateway, GatewayOptions, GatewaySource } from '../../../src/gateway/gateway.js'
import type { AdminApiOptions } from '../../../src/gateway/admin/options.js'
import { createRunner, definePlugin, type Runner } from '../../../src/runner-server/index.js'

export const ADMIN_KEY = 'edd1c9f034335f136f87ad84b625c8f1'
export const VIEWER_KEY = '4054f7cf07e344346cd3f287985e76a2'

/** The runner plugins: the documents' ext-plugin-A (post-resp header), and `tag` (pre-req request header). */
const plugins = [
  definePlugin({
    name: 'ext-plugin-A',
    parseConf: (value) => JSON.parse(value) as { enable?: string },
    async responseFilter(conf, response) {
      response.headers.set('x-ext-a', conf.enable ?? 'none')
    },
  }),
  definePlugin({
    name: 'tag',
    parseConf: (value) => value,
    requestFilter(conf, request) {
      request.headers.set('x-tag', conf)
    },
  }),
]

export interface Upstream {
  readonly name: string
  readonly port: number
  close(): Promise<void>
}

/** An upstream answering `{ server, url, tag }` (tag: the x-tag header a runner plugin set). */
export async function upstreamServer(name: string, port = 0): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ server: name, url: req.url, tag: req.headers['x-tag'] ?? null })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return { name, port: (server.address() as AddressInfo).port, close: () => closeServer(server) }
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}

export async function listenOn(listener: http.RequestListener): Promise<{ server: Server; url: string }> {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

export interface World {
  readonly dir: string
  readonly ext: ExtPlugin
  readonly a: Upstream
  readonly b: Upstream
  close(): Promise<void>
}

export async function world(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'admin-test-'))
  const runner: Runner = createRunner({ plugins })
  const socket = join(dir, 'runner.sock')
  await runner.listen(`unix:${socket}`)
  const ext = createExtPlugin({ runner: { socket } })
  const a = await upstreamServer('a')
  const b = await upstreamServer('b')
  return {
    dir,
    ext,
    a,
    b,
    close: async () => {
      await ext.close()
      await runner.close()
      await a.close()
      await b.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The world of a test file: made before its first test, closed after its last. */
export function sharedWorld(t: Test): () => World {
  let w: World | undefined
  t.before(async () => {
    w = await world()
  })
  t.teardown(() => w?.close())
  return () => {
    if (w === undefined) throw new Error('the world is made in t.before')
    return w
  }
}

export interface Busy {
  /** Responses that were not 200, and request errors. */
  readonly failed: number
  /** Responses whose tag and upstream came from two configurations (even tags go to a, odd ones to b). */
  readonly mixed: number
  readonly served: number
  readonly seen: ReadonlySet<string>
  stop(): Promise<void>
}

/** `count` loops requesting `path` through `pool` until stop(), checking every answer is from one configuration. */
export function busyClients(t: Test, pool: Pool, path: string, count: number): Busy {
  const state = { failed: 0, mixed: 0, served: 0, seen: new Set<string>() }
  let running = true
  const fail = (what: string): void => {
    if (++state.failed <= 3) t.comment(`failed: ${what}`)
  }
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await pool.request({ path, method: 'GET' })
        const text = await res.body.text()
        if (res.statusCode !== 200) {
          fail(`${res.statusCode} ${text}`)
          continue
        }
        const body = JSON.parse(text) as { server: string; tag: string | null }
        state.served++
        if (body.tag === null) continue // a configuration without the tagging plugin
        if ((Number(body.tag) % 2 === 0 ? 'a' : 'b') !== body.server) state.mixed++
        state.seen.add(body.tag)
      } catch (err) {
        fail(String(err))
      }
    }
  }
  const loops = Array.from({ length: count }, loop)
  return {
    get failed() {
      return state.failed
    },
    get mixed() {
      return state.mixed
    },
    get served() {
      return state.served
    },
    seen: state.seen,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

export interface Mounted {
  readonly gw: Gateway
  /** The gateway's own traffic. */
  readonly url: string
  /** The Admin API listener. */
  readonly admin: string
  close(): Promise<void>
}

/** A gateway on `source`, served on one port, its Admin API on another. */
export async function mount(
  w: World,
  source: GatewaySource,
  options: GatewayOptions = {},
  admin: Partial<AdminApiOptions> = {},
): Promise<Mounted> {
  const gw = w.ext.gateway(source, options)
  const traffic = await listenOn(withGateway(gw))
  const adminServer = await gw.listenAdmin({ key: ADMIN_KEY, viewerKey: VIEWER_KEY, ...admin, port: 0 })
  return {
    gw,
    url: traffic.url,
    admin: `http://127.0.0.1:${(adminServer.address() as AddressInfo).port}`,
    close: async () => {
      await closeServer(traffic.server)
      await closeServer(adminServer)
      await gw.close()
    },
  }
}

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown
}

/** One Admin API call with the admin key unless `key` says otherwise (null: no key). */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  key: string | null = ADMIN_KEY,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: { ...(key === null ? {} : { 'x-api-key': key }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.body.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.statusCode, headers: res.headers, text, json }
}

/** One request to the gateway: status, the x-ext-a header, the upstream's JSON (if any). */
export async function hit(base: string, path: string): Promise<{ status: number; extA: unknown; body: { server?: string; tag?: string } | string }> {
  const res = await request(`${base}${path}`)
  const text = await res.body.text()
  let body: { server?: string; tag?: string } | string = text
  try {
    body = JSON.parse(text) as { server?: string; tag?: string }
  } catch {
    // not JSON: APISIX's 404 or the like
  }
  return { status: res.statusCode, extA: res.headers['x-ext-a'], body }
}
