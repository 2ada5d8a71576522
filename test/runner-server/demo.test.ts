// The demo plugins (src/runner-server/demo), as a gateway would drive them.
import t from 'tap'
import * as P from '../../src/protocol/index.js'
import demo, { auth, echo, plugins, redact, rewritePath } from '../../src/runner-server/demo/index.js'
import { pairs, reqAction, respOf, rewriteOf, serve, stopOf, text } from './fixtures/gateway.js'

t.test('the module exports its plugins as default and as `plugins`', async (t) => {
  t.equal(demo, plugins)
  t.same(plugins.map((p) => p.name), ['auth', 'rewrite-path', 'redact', 'echo'])
})

t.test('auth', async (t) => {
  const { client, logger } = await serve(t, [auth])
  const c = await client()
  const token = await c.prepare([['auth', JSON.stringify({ header: 'X-Key', keys: ['one', 'caf\u00e9'] })]])
  const denied = stopOf(await c.reqCall(token, { headers: [{ name: 'x-key', value: 'wrong' }] }))
  t.equal(denied.status, 401)
  t.same(pairs(denied.headers), [['content-type', 'application/json'], ['www-authenticate', 'ApiKey header="X-Key"']])
  t.same(JSON.parse(text(denied.body)), { error: 'unauthorized' })
  t.equal(stopOf(await c.reqCall(token)).status, 401, 'no key at all')
  const passed = rewriteOf(await c.reqCall(token, { headers: [{ name: 'x-key', value: P.utf8ToBinary('caf\u00e9') }] }))
  t.same(pairs(passed.headers), [['x-key', null]], 'let through, the key removed')
  await c.prepare([['auth', '{"keys":[]}']])
  t.ok(logger.has('error', 'failed to parse the configuration of plugin auth, skip it: "keys" must be a non-empty array'))
})

t.test('rewrite-path', async (t) => {
  const { client } = await serve(t, [rewritePath])
  const c = await client()
  const prefix = await c.prepare([
    ['rewrite-path', JSON.stringify({ prefix: '/api', to: '/v2', request_headers: { 'x-rewritten': '1' }, response_headers: { 'x-route': 'v2' } })],
  ])
  const rw = rewriteOf(await c.reqCall(prefix, { path: '/api/users' }))
  t.equal(rw.path, '/v2/users')
  t.same(pairs(rw.headers), [['x-rewritten', '1']])
  t.same(pairs(rw.respHeaders), [['x-route', 'v2']])
  t.equal(reqAction(await c.reqCall(prefix, { path: '/other' })).actionType, P.Action.NONE, 'no match, no change')

  const regex = await c.prepare([['rewrite-path', JSON.stringify({ regex: '^/old/(.*)$', replacement: '/new/$1' })]])
  t.equal(rewriteOf(await c.reqCall(regex, { path: '/old/a/b' })).path, '/new/a/b')
})

t.test('redact', async (t) => {
  const { client } = await serve(t, [redact])
  const c = await client()
  const token = await c.prepare([['redact', JSON.stringify({ patterns: ['\\d{4}-\\d{4}'], replacement: '####' })]])
  const headers = [{ name: 'Content-Type', value: 'application/json' }, { name: 'Content-Length', value: '40' }]
  const body = JSON.stringify({ card: '1234-5678', other: '9999-0000', ok: 'x' })
  const reply = respOf(await c.respCall(token, { headers }, () => ({ result: body })))
  t.same(JSON.parse(text(reply.body)), { card: '####', other: '####', ok: 'x' })
  t.same(pairs(reply.headers), [['Content-Type', 'application/json'], ['x-redacted', '2']], 'stale length dropped')

  const clean = respOf(await c.respCall(token, { headers }, () => ({ result: '{"ok":1}' })))
  t.same({ status: clean.status, headers: clean.headers.length, body: clean.body }, { status: 0, headers: 0, body: undefined })

  c.questions.length = 0
  respOf(await c.respCall(token, { headers: [{ name: 'Content-Type', value: 'image/png' }] }))
  t.equal(c.questions.length, 0, 'binary bodies are not even read')
})

t.test('echo', async (t) => {
  const { client } = await serve(t, [echo])
  const c = await client()
  const token = await c.prepare([['echo', JSON.stringify({ vars: ['remote_addr'], body: true })]])
  const stop = stopOf(
    await c.reqCall(token, { id: 3, path: '/e', args: [{ name: 'q', value: '1' }] }, (q) =>
      q.kind === P.Info.Var ? { result: '127.0.0.1' } : { result: 'payload' },
    ),
  )
  t.equal(stop.status, 200)
  t.same(JSON.parse(text(stop.body)), {
    id: 3,
    method: 'GET',
    path: '/e',
    args: [['q', '1']],
    headers: [['host', 'localhost']],
    src_ip: '127.0.0.1',
    vars: { remote_addr: '127.0.0.1' },
    body: 'payload',
  })
})
