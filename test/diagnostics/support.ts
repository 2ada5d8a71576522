// A real TypeScript runner (in-process, on a private socket) behind a byte-counting Unix
// socket relay, an ExtPlugin on the relay, and node:http servers mounting routes; requests
// go through undici. Shared by the diagnostics and prometheus tests.
import { mkdtempSync, rmSync } from 'node:fs'
import http, { type Server } from 'node:http'
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { request } from 'undici'
import { withExtPlugin } from '../../adapters/http.js'
import type { RouteConfig } from '../../src/config/schemas.js'
import { createExtPlugin, type ExtPlugin } from '../../src/ext-plugin.js'
import { createRunner, definePlugin, type Runner } from '../../src/runner-server/index.js'
import { pairSockets } from '../helpers/socket-pair.js'

/** Runner plugins covering every outcome: ok (with ExtraInfo rounds), stop, rewrite, a runner error. */
export const runnerPlugins = [
  // two Var questions, then no change
  definePlugin({
    name: 'ask',
    async requestFilter(_conf, request) {
      await request.var('remote_addr')
      await request.var('uri')
    },
  }),
  definePlugin({
    name: 'deny',
    requestFilter(_conf, request, response) {
      if (request.headers.has('x-deny')) response.setStatus(403).write('denied')
    },
  }),
  definePlugin({
    name: 'tag',
    requestFilter(_conf, request) {
      request.headers.set('x-tag', 'tagged')
    },
  }),
  definePlugin({
    name: 'stamp',
    responseFilter(_conf, response) {
      response.headers.set('x-stamp', 'stamped')
    },
  }),
  // the TypeScript runner answers a plugin that throws with an RPC error
  definePlugin({
    name: 'boom',
    requestFilter() {
      throw new Error('boom')
    },
  }),
]

/** A route with all three ext-plugins: pre-req asks two Vars (and stops on x-deny), post-req rewrites, post-resp rewrites. */
export function everyPhase(id: string): RouteConfig {
  return {
    id,
    plugins: {
      'ext-plugin-pre-req': { conf: [{ name: 'ask', value: '{}' }, { name: 'deny', value: '{}' }] },
      'ext-plugin-post-req': { conf: [{ name: 'tag', value: '{}' }] },
      'ext-plugin-post-resp': { conf: [{ name: 'stamp', value: '{}' }] },
    },
  }
}

/** Bytes through the relay, each direction, over every connection. */
export interface Traffic {
  toRunner: number
  fromRunner: number
}

export interface Setup {
  readonly ext: ExtPlugin
  /** The socket the ExtPlugin talks to (the relay's). */
  readonly socket: string
  readonly traffic: Traffic
  /** Serves `route` in front of a handler answering 200 `ok`; returns its origin. */
  serve(route: RouteConfig): Promise<string>
  /** Stops the runner and starts a new one on the same socket: it knows none of the conf tokens. */
  restartRunner(): Promise<void>
}

export async function setup(t: Test): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'ext-diag-'))
  const runnerPath = join(dir, 'runner.sock')
  const relayPath = join(dir, 'relay.sock')
  // strict: a conf naming an unknown plugin fails its PrepareConf (an RPC error)
  let runner: Runner = createRunner({ plugins: runnerPlugins, strict: true })
  await runner.listen(`unix:${runnerPath}`)
  const traffic: Traffic = { toRunner: 0, fromRunner: 0 }
  const relay = await listenRelay(relayPath, runnerPath, traffic)
  const ext = createExtPlugin({ runner: { socket: relayPath } })
  const servers: Server[] = []
  t.teardown(async () => {
    for (const server of servers) server.closeAllConnections()
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    await ext.close()
    relay.close()
    await runner.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    ext,
    socket: relayPath,
    traffic,
    async serve(route) {
      const server = http.createServer(
        withExtPlugin(ext, route, (_req, res) => {
          res.setHeader('content-type', 'text/plain')
          res.end('ok')
        }),
      )
      servers.push(server)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const address = server.address() as { port: number }
      return `http://127.0.0.1:${address.port}`
    },
    async restartRunner() {
      await runner.close()
      runner = createRunner({ plugins: runnerPlugins, strict: true })
      await runner.listen(`unix:${runnerPath}`)
    },
  }
}

/** A Unix socket relay that counts what passes, so tests can check the bytes a context reports. */
async function listenRelay(path: string, target: string, traffic: Traffic): Promise<NetServer> {
  const sockets = new Set<Socket>()
  const server = createNetServer((client) => {
    const upstream = connect({ path: target })
    pairSockets(sockets, client, upstream)
    client.on('data', (chunk: Buffer) => {
      traffic.toRunner += chunk.length
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      traffic.fromRunner += chunk.length
      client.write(chunk)
    })
  })
  const close = server.close.bind(server)
  server.close = (callback) => {
    for (const socket of sockets) socket.destroy()
    return close(callback)
  }
  await new Promise<void>((resolve) => server.listen(path, resolve))
  return server
}

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await request(url, { headers })
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() }
}
