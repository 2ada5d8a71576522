// `strict` (the CLI's --strict): a conf the runner cannot honour fails the PrepareConf, so
// the gateway answers 503 instead of letting the request through with the plugin skipped.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { withExtPlugin } from '../../adapters/http.js'
import { createExtPlugin } from '../../src/index.js'
import * as P from '../../src/protocol/index.js'
import { definePlugin } from '../../src/runner-server/index.js'
import { errCode, serve, stopOf } from './fixtures/gateway.js'

const auth = definePlugin({
  name: 'auth',
  parseConf(value) {
    const conf = JSON.parse(value) as { key?: unknown }
    if (typeof conf.key !== 'string') throw new Error('auth needs a key')
    return conf as { key: string }
  },
  requestFilter(conf, request, response) {
    if (request.headers.get('x-key') !== conf.key) response.setStatus(401).write('no')
  },
})

const prepareFrame = (conf: Array<[string, string]>) =>
  P.encodePrepareConfRequest({ conf: conf.map(([name, value]) => ({ name, value })) })

t.test('strict: an unknown plugin or an unparsable conf is an RPC error; good confs still prepare', async (t) => {
  const served = await serve(t, [auth], { strict: true })
  const c = await served.client()
  t.equal(errCode(await c.call(prepareFrame([['auth', '{"key":"k"}'], ['auht', '{}']]))), P.ErrCode.SERVICE_UNAVAILABLE, 'unknown name')
  t.equal(errCode(await c.call(prepareFrame([['auth', '{"kee":"k"}']]))), P.ErrCode.SERVICE_UNAVAILABLE, 'parseConf throws')
  t.equal(errCode(await c.call(prepareFrame([['auth', 'not json']]))), P.ErrCode.SERVICE_UNAVAILABLE, 'not JSON')
  t.ok(served.logger.has('error', "strict: can't find plugin auht"), 'the reason is logged')
  t.notOk(served.logger.lines.some((l) => l.includes('not json')), 'the conf value is not logged')
  t.equal(served.runner.stats.confs, 0, 'nothing was stored')
  // The same connection keeps serving.
  const token = await c.prepare([['auth', '{"key":"k"}']])
  t.equal(stopOf(await c.reqCall(token)).status, 401)
})

t.test('not strict (the default): the same confs prepare with the plugin left out', async (t) => {
  const served = await serve(t, [auth])
  const c = await served.client()
  const token = await c.prepare([['auth', '{"kee":"k"}'], ['auht', '{}']])
  t.ok(token > 0)
  t.ok(served.logger.has('warn', "can't find plugin auht, skip"))
})

t.test('through the gateway: strict answers 503 where lenient lets the request through', async (t) => {
  const answers: Record<string, number> = {}
  for (const strict of [true, false]) {
    const served = await serve(t, [auth], { strict })
    const ext = createExtPlugin({ runner: { socket: served.path }})
    t.teardown(() => ext.close())
    const route = { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'auth', value: '{"kee":"typo"}' }] } } }
    const server: Server = createServer(withExtPlugin(ext, route, (_req, res) => res.end('upstream')))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    const body = await res.body.text()
    answers[strict ? 'strict' : 'lenient'] = res.statusCode
    if (!strict) t.equal(body, 'upstream', 'lenient: the upstream answered, auth skipped')
  }
  t.same(answers, { strict: 503, lenient: 200 })
})
