// The Fastify adapter on Fastify 5 and 4 (installed as `fastify4`) through `inject()`, with
// the real TypeScript runner (fastify-server.test.ts: listening servers and serverFactory). Rewrites must be
// what Fastify routes on and what `request.query` shows; the plugins run once per request
// even though a rewritten request is routed twice.
import { createRequire } from 'node:module'
import fastify5 from 'fastify'
import t from 'tap'
import { extPlugin, gateway } from '../../adapters/fastify.js'
import { conf, rewriting, routes, startRunner } from './fastify-fetch-runner.js'

t.setTimeout(40_000)

const fastify4 = createRequire(import.meta.url)('fastify4') as typeof fastify5
const runner = await startRunner(t)
const ext = runner.ext(t)

const calls = (name: string): number => runner.calls.get(name) ?? 0


for (const [major, Fastify] of [['fastify 5', fastify5], ['fastify 4', fastify4]] as const) {
  t.test(major, async (t) => {
    t.test('inject(): a rewrite is what Fastify routes on and what request.query shows; the runner is asked once', async (t) => {
      const app = Fastify()
      const hits: string[] = []
      let onRequest = 0
      app.addHook('onRequest', async () => {
        onRequest++
      })
      await app.register(extPlugin, { ext, route: rewriting })
      routes(app, hits)
      const before = calls('rewrite')
      const res = await app.inject({ url: '/old?q=1' })
      t.equal(res.statusCode, 200)
      const seen = res.json() as { route: string; url: string; query: unknown; headers: Record<string, string> }
      t.equal(seen.route, 'new', 'the rewritten path was routed')
      t.equal(seen.url, '/new?q=1&a=b')
      t.same(seen.query, { q: '1', a: 'b' }, 'request.query follows the new args')
      t.equal(seen.headers['x-rewritten'], '1')
      t.same(hits, ['new'], 'the old route never ran')
      t.equal(calls('rewrite') - before, 1, 'the plugins ran once')
      t.equal(onRequest, 2, 'an onRequest hook registered before extPlugin sees both passes (documented)')
      await app.close()
    })

    t.test('inject(): Stop answers instead of the route; a body the runner reads reaches Fastify’s parser', async (t) => {
      const app = Fastify()
      const hits: string[] = []
      await app.register(async (scope) => {
        await scope.register(extPlugin, { ext, route: { plugins: { 'ext-plugin-pre-req': { conf: [conf('stop', { status: 403, body: 'denied', headers: { 'x-stop': '1' } })] } } } })
        scope.get('/guarded', async () => {
          hits.push('guarded')
          return 'not reached'
        })
      })
      await app.register(async (scope) => {
        await scope.register(extPlugin, { ext, route: { plugins: { 'ext-plugin-pre-req': { conf: [conf('read-body')] } } } })
        scope.post('/upload', async (request) => ({ body: request.body, length: request.headers['x-runner-length'] }))
      })
      const stopped = await app.inject({ url: '/guarded' })
      t.equal(stopped.statusCode, 403)
      t.equal(stopped.headers['x-stop'], '1')
      t.equal(stopped.headers['content-length'], '6')
      t.equal(stopped.body, 'denied')
      t.same(hits, [])
      const payload = { list: Array.from({ length: 200 }, (_, i) => i) }
      const uploaded = await app.inject({ method: 'POST', url: '/upload', payload })
      t.equal(uploaded.statusCode, 200)
      t.same(uploaded.json(), { body: payload, length: String(JSON.stringify(payload).length) }, 'the parser and the runner read the same bytes')
      await app.close()
    })

    t.test('inject(): the response phase changes what the route sent', async (t) => {
      const app = Fastify()
      await app.register(extPlugin, { ext, route: { plugins: { 'ext-plugin-post-resp': { conf: [conf('resp', { status: 201, append: '!' })] } } } })
      app.get('/r', async (_request, reply) => reply.type('text/plain').send('hello'))
      const res = await app.inject({ url: '/r' })
      t.equal(res.statusCode, 201)
      t.equal(res.headers['x-resp'], 'runner')
      t.equal(res.headers['content-length'], '6')
      t.equal(res.body, 'hello!')
      await app.close()
    })

    t.test('encapsulated: registered in a prefix context, it runs for that context’s routes only; a rewrite may leave it', async (t) => {
      const app = Fastify()
      const hits: string[] = []
      await app.register(
        async (scope) => {
          await scope.register(extPlugin, { ext, route: { plugins: { 'ext-plugin-pre-req': { conf: [conf('rewrite', { path: '/elsewhere' })] } } } })
          scope.get('/v1', async () => 'api')
        },
        { prefix: '/api' },
      )
      app.get('/elsewhere', async (request) => {
        hits.push('elsewhere')
        return { url: request.url }
      })
      app.get('/outside', async () => 'outside')
      const before = calls('rewrite')
      const moved = await app.inject({ url: '/api/v1?x=1' })
      t.same(moved.json(), { url: '/elsewhere?x=1' }, 'rewritten out of the context, routed by the root')
      t.equal((await app.inject({ url: '/outside' })).body, 'outside')
      t.equal(calls('rewrite') - before, 1, 'the plugins ran for the context’s route only')
      await app.close()
    })

    t.test('gateway: a matched route’s plugins run, its rewrite is routed by Fastify; unmatched requests go on', async (t) => {
      const gw = ext.gateway({
        routes: [{ id: 'r1', uri: '/old', plugins: { 'ext-plugin-pre-req': { conf: [conf('rewrite', { path: '/new', args: { via: 'gateway' } })] } } }],
      })
      t.teardown(() => gw.close())
      const app = Fastify()
      await app.register(gateway, { gateway: gw })
      const hits: string[] = []
      routes(app, hits)
      const res = await app.inject({ url: '/old' })
      const seen = res.json() as { route: string; query: unknown }
      t.equal(seen.route, 'new')
      t.same(seen.query, { via: 'gateway' })
      t.equal(((await app.inject({ url: '/elsewhere' })).json() as { route: string }).route, 'elsewhere', 'no route matched: Fastify’s own')
      await app.close()
    })
  })
}
