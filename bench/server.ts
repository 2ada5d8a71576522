// A benchmark target, run as its own process: `server.ts <framework> <variant> [bodyBytes]`.
// framework: express | koa | http; variant: bare | pre-req | post-resp. It prints the port.
import http from 'node:http'
import express from 'express'
import Koa from 'koa'
// The compiled package, as applications run it (npm ci builds dist/ through `prepare`).
import { createExtPlugin, type RouteConfig } from '../dist/esm/src/index.js'
import { extPlugin as expressExt } from '../dist/esm/adapters/express.js'
import { extPlugin as koaExt } from '../dist/esm/adapters/koa.js'
import { withExtPlugin } from '../dist/esm/adapters/http.js'
import { GO_RUNNER } from './rpc.js'

const [framework = 'http', variant = 'bare', bodyArg = '12'] = process.argv.slice(2)
const body = Buffer.alloc(Number(bodyArg), 'x')

const routes: Record<string, RouteConfig | undefined> = {
  bare: undefined,
  'pre-req': { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'noop', value: '{}' }] } } },
  'post-resp': { plugins: { 'ext-plugin-post-resp': { conf: [{ name: 'noop', value: '{}' }] } } },
}
const route = routes[variant]
const ext = route ? createExtPlugin({ runner: { cmd: [GO_RUNNER], env: { GO_RUNNER_LOG_LEVEL: 'error' } }, maxBodySize: 8 << 20 }) : undefined
await ext?.ready()

let server: http.Server
if (framework === 'express') {
  const app = express()
  app.set('etag', false)
  if (route) app.use(expressExt(ext!, route))
  app.get('/', (_req, res) => res.type('text/plain').send(body))
  server = app.listen(0)
} else if (framework === 'koa') {
  const app = new Koa()
  if (route) app.use(koaExt(ext!, route))
  app.use((ctx) => {
    ctx.type = 'text/plain'
    ctx.body = body
  })
  server = app.listen(0)
} else {
  const handler = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('content-type', 'text/plain')
    res.setHeader('content-length', body.length)
    res.end(body)
  }
  server = http.createServer(route ? withExtPlugin(ext!, route, handler) : handler).listen(0)
}
server.keepAliveTimeout = 60_000
server.once('listening', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })))
process.on('SIGTERM', () => {
  server.close()
  void ext?.close().then(() => process.exit(0))
  if (!ext) process.exit(0)
})
