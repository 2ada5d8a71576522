// A benchmark target, run as its own process: `server.ts <framework> <variant> [bodyBytes]`.
// framework: express | koa | http; variant: bare | floor | floor-split | pre-req | pre-req-ts | post-resp |
// read-body (the TypeScript runner reads each request body). It prints the port.
//
// `floor` (node:http and Express) is bare plus one raw round trip per request to bench/go-echo
// with a frame the size of the HTTPReqCall this request would send: the least a runner
// call can cost, measured beside the middleware in the same rounds. `floor-split`: the same,
// the echo answering in two writes (header, then payload) as the Go runner v0.5.0 does.
//
// BENCH_SOURCE=src runs the TypeScript sources (through tsx) instead of the compiled
// package, so that a change can be measured without rebuilding dist/; BENCH_DIST=<dir>
// runs another build (tsc -p tsconfig.build.json --outDir <dir>/..).
import http from 'node:http'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import Koa from 'koa'
import type { RouteConfig } from '../src/index.js'
import { GO_ECHO, GO_RUNNER, tsRunnerCmd } from './paths.js'

const fromSource = process.env.BENCH_SOURCE === 'src'
// The compiled package, as applications run it (npm ci builds dist/ through `prepare`), or
// another build of it (BENCH_DIST=/path/to/dist/esm: to compare two trees).
const root = fromSource ? '..' : (process.env.BENCH_DIST ?? '../dist/esm')
const ext = (file: string) => (fromSource ? `${root}/${file}.ts` : `${root}/${file}.js`)
const { createExtPlugin } = (await import(ext('src/index'))) as typeof import('../src/index.js')
const { extPlugin: expressExt } = (await import(ext('adapters/express'))) as typeof import('../adapters/express.js')
const { extPlugin: koaExt } = (await import(ext('adapters/koa'))) as typeof import('../adapters/koa.js')
const { withExtPlugin } = (await import(ext('adapters/http'))) as typeof import('../adapters/http.js')
const { encodeReqCall } = (await import(ext('src/protocol/messages/req-call-writer'))) as typeof import('../src/protocol/messages/req-call-writer.js')

const [framework = 'http', variant = 'bare', bodyArg = '12'] = process.argv.slice(2)
const body = Buffer.alloc(Number(bodyArg), 'x')

const noop = [{ name: 'noop', value: '{}' }]
const routes: Record<string, RouteConfig | undefined> = {
  bare: undefined,
  floor: undefined,
  'floor-split': undefined,
  'pre-req': { plugins: { 'ext-plugin-pre-req': { conf: noop } } },
  'pre-req-ts': { plugins: { 'ext-plugin-pre-req': { conf: noop } } },
  'post-resp': { plugins: { 'ext-plugin-post-resp': { conf: noop } } },
  'read-body': { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'read-body', value: '{}' }] } } },
}
const route = routes[variant]
const runnerCmd = variant === 'pre-req-ts' || variant === 'read-body' ? tsRunnerCmd() : [GO_RUNNER]
const plugin = route
  ? createExtPlugin({ runner: { cmd: runnerCmd, env: { GO_RUNNER_LOG_LEVEL: 'error', ...(fromSource ? { APISIX_EXT_PLUGIN_RUNNER_SOURCE: '1' } : {}) } }, maxBodySize: 12 << 20, ...(variant === 'read-body' ? { maxQueuedBytes: 256 << 20 } : {}), ...(process.env.BENCH_LOG ? { logger: { debug() {}, info() {}, warn: (f: object, m: string) => console.error(m, f), error: (f: object, m: string) => console.error(m, f) } } : {}) })
  : undefined
await plugin?.ready()

/** The floor's echo connections: one round trip at a time on each, as the pool does. */
class Echo {
  readonly #idle: Socket[] = []
  readonly #path: string
  #frame: Buffer | undefined
  constructor(path: string) {
    this.#path = path
  }
  /** One raw round trip of an HTTPReqCall-sized frame (computed once: every request is alike). */
  async roundTrip(req: http.IncomingMessage): Promise<void> {
    const frame = (this.#frame ??= encodeReqCall({ srcIp: Buffer.from([127, 0, 0, 1]), method: 2, path: req.url ?? '/', args: [], headers: { lines: req.rawHeaders } }, 1, 1))
    const socket = this.#idle.pop() ?? (await this.#connect())
    await new Promise<void>((resolve) => {
      let got = 0
      const onData = (chunk: Buffer): void => {
        got += chunk.length
        if (got < frame.length) return
        socket.removeListener('data', onData)
        resolve()
      }
      socket.on('data', onData)
      socket.write(frame)
    })
    this.#idle.push(socket)
  }
  #connect(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.#path, () => resolve(socket))
      socket.once('error', reject)
    })
  }
}

async function startEcho(split: boolean): Promise<Echo> {
  const path = join(mkdtempSync(join(tmpdir(), 'bench-echo-')), 'echo.sock')
  const env = { ...process.env, APISIX_LISTEN_ADDRESS: `unix:${path}`, ...(split ? { ECHO_SPLIT_WRITES: '1' } : {}) }
  const child = spawn(GO_ECHO, [], { env, stdio: 'ignore' })
  process.once('exit', () => child.kill('SIGKILL'))
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = connect(path, () => {
        probe.destroy()
        resolve(true)
      })
      probe.once('error', () => resolve(false))
    })
    if (ok) break
    await sleep(25)
  }
  return new Echo(path)
}
const echo = variant === 'floor' || variant === 'floor-split' ? await startEcho(variant === 'floor-split') : undefined

let server: http.Server
if (framework === 'express') {
  const app = express()
  app.set('etag', false)
  if (route) app.use(expressExt(plugin!, route))
  // Express's floor: the same raw round trip in a middleware, before the route
  if (echo) app.use((req, _res, next) => void echo.roundTrip(req).then(() => next()))
  app.get('/', (_req, res) => res.type('text/plain').send(body))
  app.post('/', (req, res) => {
    req.resume()
    req.on('end', () => res.type('text/plain').send(body))
  })
  server = app.listen(0)
} else if (framework === 'koa') {
  const app = new Koa()
  if (route) app.use(koaExt(plugin!, route))
  app.use((ctx) => {
    ctx.type = 'text/plain'
    ctx.body = body
  })
  server = app.listen(0)
} else {
  const answer = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const send = () => {
      res.setHeader('content-type', 'text/plain')
      res.setHeader('content-length', body.length)
      res.end(body)
    }
    if (req.method === 'POST') {
      req.resume()
      req.on('end', send)
    } else send()
  }
  const handler = echo ? (req: http.IncomingMessage, res: http.ServerResponse) => void echo.roundTrip(req).then(() => answer(req, res)) : answer
  server = http.createServer(route ? withExtPlugin(plugin!, route, handler) : handler).listen(0)
}
server.keepAliveTimeout = 60_000
server.once('listening', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })))
// BENCH_PROFILE=<file>: the first SIGUSR2 starts the CPU profiler, the second writes the
// profile (steady state only, without start-up), e.g. for bench/profile-diff.ts.
if (process.env.BENCH_PROFILE) {
  const { Session } = await import('node:inspector/promises')
  const { writeFileSync } = await import('node:fs')
  const session = new Session()
  session.connect()
  let running = false
  // BENCH_PROFILE_HEAP=1: allocations instead (sampled every 256 bytes, garbage included).
  const heap = process.env.BENCH_PROFILE_HEAP === '1'
  process.on('SIGUSR2', () => {
    running = !running
    if (heap) {
      if (running) void session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
      else void session.post('HeapProfiler.stopSampling').then(({ profile }) => writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile)))
    } else if (running) void session.post('Profiler.enable').then(() => session.post('Profiler.setSamplingInterval', { interval: 100 })).then(() => session.post('Profiler.start'))
    else void session.post('Profiler.stop').then(({ profile }) => writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile)))
  })
}
process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  void plugin?.close().then(() => process.exit(0))
  if (!plugin) process.exit(0)
})
