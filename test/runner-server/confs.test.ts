// PrepareConf on the runner side: tokens, idempotence by key, expiry, unknown plugins and
// confs that fail to parse, how conf values are decoded.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import * as P from '../../src/protocol/index.js'
import { definePlugin } from '../../src/runner-server/index.js'
import { errCode, serve, stopOf, text } from './fixtures/gateway.js'

/** Stops with its conf as JSON, so a test sees what parseConf made of the value. */
const show = definePlugin({
  name: 'show',
  requestFilter: (conf, _r, response) => void response.setStatus(200).write(JSON.stringify(conf ?? null)),
})
const strict = definePlugin({
  name: 'strict',
  parseConf: (value) => {
    const conf = JSON.parse(value) as { n?: unknown }
    if (typeof conf.n !== 'number') throw new Error('n must be a number')
    return conf as { n: number }
  },
  requestFilter: (conf, _r, response) => void response.setStatus(200).write(`strict ${conf.n}`),
})
const slowParse = definePlugin({
  name: 'slow-parse',
  parseConf: async (value) => {
    await sleep(20)
    return value.toUpperCase()
  },
  requestFilter: (conf, _r, response) => void response.setStatus(200).write(conf),
})
const plugins = [show, strict, slowParse]

t.test('tokens count from 1; the same key gives the same token, another key another', async (t) => {
  const { client } = await serve(t, plugins)
  const [a, b] = [await client(), await client()]
  const first = await a.prepare([['show', '{}']], 'route#1#ext-plugin-pre-req#1')
  t.equal(first, 1)
  t.equal(await b.prepare([['show', '{"other":"conf"}']], 'route#1#ext-plugin-pre-req#1'), first, 'same key, another connection: same token')
  t.equal(await a.prepare([['show', '{}']], 'route#1#ext-plugin-pre-req#2'), 2, 'new version, new token')
  const unkeyed = [await a.prepare([['show', '{}']]), await a.prepare([['show', '{}']], '')]
  t.same(unkeyed, [3, 4], 'without a key every PrepareConf is a new token')
})

t.test('concurrent PrepareConfs of one key share a token', async (t) => {
  const { client } = await serve(t, plugins)
  const clients = await Promise.all(Array.from({ length: 5 }, () => client()))
  const tokens = await Promise.all(clients.map((c) => c.prepare([['slow-parse', 'x']], 'route#9#ext-plugin-pre-req#1')))
  t.same(new Set(tokens).size, 1)
})

t.test('conf values: JSON by default, blank means undefined, UTF-8 text, custom and async parseConf', async (t) => {
  const { client } = await serve(t, plugins)
  const c = await client()
  const body = async (name: string, value: string) => text(stopOf(await c.reqCall(await c.prepare([[name, value]]))).body)
  t.equal(await body('show', '{"a":[1,"caf\u00e9"]}'), '{"a":[1,"caf\u00e9"]}', 'UTF-8 decoded, then JSON.parse')
  t.equal(await body('show', ''), 'null', 'empty value: undefined')
  t.equal(await body('show', '  \n'), 'null', 'blank value: undefined')
  t.equal(await body('strict', '{"n":7}'), 'strict 7')
  t.equal(await body('slow-parse', 'abc'), 'ABC')
})

t.test('unknown plugins and confs that fail to parse are logged and left out', async (t) => {
  const { client, logger } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['nope', '{}'], ['strict', '{"n":"secret-value"}'], ['show', 'not json'], ['strict', '{"n":1}']])
  t.equal(text(stopOf(await c.reqCall(token)).body), 'strict 1', 'only the good one runs')
  t.ok(logger.has('warn', "can't find plugin nope, skip"))
  t.ok(logger.has('error', 'failed to parse the configuration of plugin strict, skip it: n must be a number'))
  t.ok(logger.has('error', 'failed to parse the configuration of plugin show'))
  t.notOk(logger.lines.some((l) => l.includes('secret-value')), 'conf values are never logged')

  const none = await c.prepare(undefined, 'route#2#ext-plugin-pre-req#1')
  t.equal(P.decodeHTTPReqCallResponse((await c.reqCall(none)).payload).actionType, 0, 'no conf vector: a token with no plugins')
})

t.test('confs expire 1.2 × confExpireTime after their last use', async (t) => {
  const { client, runner } = await serve(t, plugins, { confExpireTime: 0.1 }) // kept 120 ms
  const c = await client()
  const token = await c.prepare([['strict', '{"n":1}']], 'route#1#ext-plugin-pre-req#1')
  for (let i = 0; i < 4; i++) {
    await sleep(60)
    t.equal(stopOf(await c.reqCall(token)).status, 200, `still there after ${(i + 1) * 60} ms of use`)
  }
  await sleep(200)
  t.equal(errCode(await c.reqCall(token)), P.ErrCode.CONF_TOKEN_NOT_FOUND, 'expired')
  const again = await c.prepare([['strict', '{"n":2}']], 'route#1#ext-plugin-pre-req#1')
  t.not(again, token, 'an expired key gets a new token')
  t.equal(text(stopOf(await c.reqCall(again)).body), 'strict 2')
  t.equal(runner.stats.confs >= 1, true)
})

t.test('APISIX_CONF_EXPIRE_TIME sets the lifetime when the option does not', async (t) => {
  const saved = process.env.APISIX_CONF_EXPIRE_TIME
  process.env.APISIX_CONF_EXPIRE_TIME = '0.05'
  t.teardown(() => {
    if (saved === undefined) delete process.env.APISIX_CONF_EXPIRE_TIME
    else process.env.APISIX_CONF_EXPIRE_TIME = saved
  })
  const { client } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['strict', '{"n":1}']])
  await sleep(120)
  t.equal(errCode(await c.reqCall(token)), P.ErrCode.CONF_TOKEN_NOT_FOUND)
})

t.test('the oldest confs go when maxConfs is reached', async (t) => {
  const { client } = await serve(t, plugins, { maxConfs: 3 })
  const c = await client()
  const tokens: number[] = []
  for (let i = 0; i < 5; i++) tokens.push(await c.prepare([['strict', `{"n":${i}}`]], `k${i}`))
  t.equal(errCode(await c.reqCall(tokens[0]!)), P.ErrCode.CONF_TOKEN_NOT_FOUND)
  t.equal(text(stopOf(await c.reqCall(tokens[4]!)).body), 'strict 4')
})
