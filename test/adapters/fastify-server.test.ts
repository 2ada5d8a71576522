// The Fastify adapter on Fastify 5 and 4 behind a listening server, over real HTTP (undici),
// with the real TypeScript runner: extPlugin (rewrite, HEAD, 204, the runner down),
// serverFactory (the plugins before Fastify's router, one pass) and a gateway that proxies.
import { once } from 'node:events'
import http from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fastify5 from 'fastify'
import t from 'tap'
import { request } from 'undici'
import { extPlugin, gateway, serverFactory } from '../../adapters/fastify.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import { conf, rewriting, routes, startRunner } from './fastify-fetch-runner.js'

t.setTimeout(40_000)

const fastify4 = createRequire(import.meta.url)('fastify4') as typeof fastify5
const runner = await startRunner(t)
const ext = runner.ext(t)

// An upstream for the gateway: says what it received.
const upstream = http.createServer((req, res) => {
  const body = JSON.stringify({ upstream: true, url: req.url, tag: req.headers['x-rewritten'] ?? null })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
})
upstream.listen(0, '127.0.0.1')
await once(upstream, 'listening')
t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())))
const upstreamPort = (upstream.address() as AddressInfo).port

for (const [major, Fastify] of [['fastify 5', fastify5], ['fastify 4', fastify4]] as const) {
  t.test(major, async (t) => {
    t.test('a listening server, undici: rewrite, HEAD, 204, and the runner down (503, allow_degradation)', async (t) => {
      const absent = createExtPlugin({ runner: { socket: join(tmpdir(), 'fastify-test-no-such-dir', 'r.sock') }, connectTimeout: 200 })
      t.teardown(() => absent.close())
      const app = Fastify()
      const hits: string[] = []
      await app.register(
        async (scope) => {
          await scope.register(extPlugin, { ext, route: rewriting })
          routes(scope, hits)
        },
        { prefix: '' },
      )
      await app.register(async (scope) => {
        await scope.register(extPlugin, { ext: absent, route: { plugins: { 'ext-plugin-pre-req': { conf: [conf('stop')] } } } })
        scope.get('/down', async () => 'not reached')
      })
      await app.register(async (scope) => {
        await scope.register(extPlugin, { ext: absent, route: { plugins: { 'ext-plugin-pre-req': { conf: [conf('stop')], allow_degradation: true } } } })
        scope.get('/degraded', async () => 'degraded')
        scope.get('/empty', async (_request, reply) => reply.code(204).send())
      })
      await app.listen({ port: 0, host: '127.0.0.1' })
      t.teardown(() => app.close())
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
      const res = await request(`${base}/old?q=2`)
      t.same(((await res.body.json()) as { query: unknown }).query, { q: '2', a: 'b' })
      const head = await request(`${base}/old`, { method: 'HEAD' })
      t.equal(head.statusCode, 200)
      t.equal((await head.body.arrayBuffer()).byteLength, 0)
      const down = await request(`${base}/down`)
      t.equal(down.statusCode, 503)
      t.match(await down.body.text(), /503 Service Temporarily Unavailable/)
      const degraded = await request(`${base}/degraded`)
      t.equal(await degraded.body.text(), 'degraded')
      const empty = await request(`${base}/empty`)
      t.equal(empty.statusCode, 204)
      t.equal(empty.headers['content-length'], undefined)
      await empty.body.dump()
    })

    t.test('serverFactory: the plugins run before Fastify routes, in one pass', async (t) => {
      let onRequest = 0
      const app = Fastify({ serverFactory: serverFactory(ext, rewriting) })
      app.addHook('onRequest', async () => {
        onRequest++
      })
      const hits: string[] = []
      routes(app, hits)
      await app.listen({ port: 0, host: '127.0.0.1' })
      t.teardown(() => app.close())
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
      const res = await request(`${base}/old?q=3`)
      const seen = (await res.body.json()) as { route: string; query: unknown }
      t.equal(seen.route, 'new')
      t.same(seen.query, { q: '3', a: 'b' })
      t.equal(onRequest, 1, 'Fastify saw the request once')
      const injected = await app.inject({ url: '/old' })
      t.equal((injected.json() as { route: string }).route, 'old', 'inject() bypasses the server, and serverFactory with it (documented)')
    })

    t.test('gateway: a route with an upstream is proxied (its plugins first); the others reach Fastify', async (t) => {
      const gw = ext.gateway({
        routes: [
          {
            id: 'proxied',
            uri: '/up/*',
            plugins: { 'ext-plugin-pre-req': { conf: [conf('rewrite', { headers: { 'x-rewritten': 'by the runner' } })] } },
            upstream: { nodes: { [`127.0.0.1:${upstreamPort}`]: 1 } },
          },
        ],
      })
      t.teardown(() => gw.close())
      const app = Fastify()
      await app.register(gateway, { gateway: gw })
      const hits: string[] = []
      routes(app, hits)
      await app.listen({ port: 0, host: '127.0.0.1' })
      t.teardown(() => app.close())
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
      const proxied = await request(`${base}/up/x?y=1`)
      t.equal(proxied.statusCode, 200)
      t.same(await proxied.body.json(), { upstream: true, url: '/up/x?y=1', tag: 'by the runner' })
      const local = await request(`${base}/elsewhere`)
      t.equal(((await local.body.json()) as { route: string }).route, 'elsewhere')
      t.same(hits, ['elsewhere'], 'the proxied request never reached a Fastify route')
    })

  })
}
