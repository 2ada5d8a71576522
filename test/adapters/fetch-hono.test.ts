// The fetch adapter under Hono, served by @hono/node-server, over real HTTP (undici): Hono
// routes the rewritten path, the client address comes from the server through the
// `remoteAddress` option, and what the library frames reaches the wire as framed.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import { Hono } from 'hono'
import t from 'tap'
import { request } from 'undici'
import { withExtPlugin } from '../../adapters/fetch.js'
import { conf, startRunner } from './fastify-fetch-runner.js'

t.setTimeout(30_000)

const runner = await startRunner(t)
const ext = runner.ext(t)

const app = new Hono<{ Bindings: HttpBindings }>()
app.get('/v1/:name', (c) => c.json({ name: c.req.param('name'), query: c.req.queries(), remote: c.req.header('x-var-remote_addr') ?? null, env: c.env.incoming !== undefined }))
app.post('/upload', async (c) => c.text(`got ${(await c.req.arrayBuffer()).byteLength} bytes, runner saw ${c.req.header('x-runner-length')}`))
app.get('/hello', (c) => c.text('hello'))
app.get('/sized', (c) => c.body('hello', 200, { 'content-type': 'text/plain', 'content-length': '5' }))

async function serve(fetch: (request: Request, env: HttpBindings) => Promise<Response> | Response): Promise<string> {
  const server = createAdaptorServer({ fetch: fetch as (request: Request, env: unknown) => Promise<Response>, hostname: '127.0.0.1' }) as Server
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const route = {
  plugins: {
    'ext-plugin-pre-req': { conf: [conf('rewrite', { path: '/v1/orders', args: { page: '2' } }), conf('vars', { names: ['remote_addr'] })] },
  },
}

t.test('Hono routes the rewritten path and query; remote_addr from the server’s socket', async (t) => {
  const base = await serve(withExtPlugin(ext, route, app.fetch, { remoteAddress: (_request, env) => (env as HttpBindings).incoming.socket.remoteAddress }))
  const res = await request(`${base}/api/orders?sort=asc`)
  t.equal(res.statusCode, 200)
  t.same(await res.body.json(), { name: 'orders', query: { sort: ['asc'], page: ['2'] }, remote: '127.0.0.1', env: true })
})

t.test('without the remoteAddress option the runner sees no client address', async (t) => {
  const base = await serve(withExtPlugin(ext, route, app.fetch))
  const res = await request(`${base}/api/orders`)
  t.equal(((await res.body.json()) as { remote: string | null }).remote, '(none)')
})

t.test('a body the runner reads is still the application’s; Stop and response phase go out framed', async (t) => {
  const reading = await serve(withExtPlugin(ext, { plugins: { 'ext-plugin-pre-req': { conf: [conf('read-body')] } } }, app.fetch))
  const up = await request(`${reading}/upload`, { method: 'POST', body: Buffer.alloc(70_000, 1) })
  t.equal(await up.body.text(), 'got 70000 bytes, runner saw 70000')

  const stopping = await serve(withExtPlugin(ext, { plugins: { 'ext-plugin-pre-req': { conf: [conf('stop', { status: 401, body: 'who are you', headers: { 'content-type': 'text/plain' } })] } } }, app.fetch))
  const stopped = await request(`${stopping}/hello`)
  t.equal(stopped.statusCode, 401)
  t.equal(stopped.headers['content-length'], '11')
  t.equal(stopped.headers['transfer-encoding'], undefined)
  t.equal(await stopped.body.text(), 'who are you')

  const changing = await serve(withExtPlugin(ext, { plugins: { 'ext-plugin-post-resp': { conf: [conf('resp', { status: 202, append: ' world' })] } } }, app.fetch))
  const changed = await request(`${changing}/hello`)
  t.equal(changed.statusCode, 202)
  t.equal(changed.headers['content-length'], '11')
  t.equal(changed.headers['x-resp'], 'runner')
  t.equal(await changed.body.text(), 'hello world')
  const statusOnly = await serve(withExtPlugin(ext, { plugins: { 'ext-plugin-post-resp': { conf: [conf('resp', { status: 202 })] } } }, app.fetch))
  const head = await request(`${statusOnly}/sized`, { method: 'HEAD' })
  t.equal(head.statusCode, 202)
  t.equal(head.headers['content-length'], '5', 'HEAD keeps the length the application declared')
  t.equal((await head.body.arrayBuffer()).byteLength, 0)
})
