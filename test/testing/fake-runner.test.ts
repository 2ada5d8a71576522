// apisix-ext-plugin/testing with real Express and the real client: what fakeRunner records,
// and every fault kind giving the library's documented behaviour (503, error_response,
// degradation, the token-not-found retry).
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import type { AddressInfo } from 'node:net'
import express from 'express'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { extPlugin } from '../../adapters/express.js'
import { createExtPlugin, type RouteConfig } from '../../src/index.js'
import { definePlugin, fakeRunner, type FakeRunner } from '../../src/testing/index.js'

t.setTimeout(60_000)

const auth = definePlugin({
  name: 'auth',
  parseConf: (value) => JSON.parse(value) as { key: string },
  async requestFilter(conf, req, res) {
    if (req.headers.get('x-key') !== conf.key) {
      res.setStatus(401).write('no key').headers.set('x-why', 'key')
      return
    }
    req.headers.set('x-user', (await req.var('arg_user')) ?? 'anonymous')
  },
})
const tag = definePlugin({
  name: 'tag',
  responseFilter(_conf, res) {
    res.headers.set('x-tagged', String(res.status))
  },
})

const preReq = (extra: Record<string, unknown> = {}): RouteConfig => ({
  id: 'api',
  plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'auth', value: '{"key":"k"}' }], ...extra } },
})

interface App {
  url: string
  runner: FakeRunner
  /** The codes of the errors the library logged, in order. */
  codes: string[]
}

async function app(t: Test, route: RouteConfig, options: { callTimeout?: number } = {}): Promise<App> {
  const runner = await fakeRunner({ plugins: [auth, tag] })
  t.teardown(() => runner.close())
  const codes: string[] = []
  const logger = { error: (fields: Readonly<Record<string, unknown>>) => void (typeof fields.code === 'string' && codes.push(fields.code)) }
  const ext = createExtPlugin({ runner: { socket: runner.socket }, callTimeout: options.callTimeout ?? 2000, logger })
  t.teardown(() => ext.close())
  const server = express()
    .use(extPlugin(ext, route))
    .get('/hello', (req, res) => void res.send(`hello ${String(req.headers['x-user'])}`))
    .listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, runner, codes }
}

async function get(url: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await request(url, { headers: { 'x-key': 'k' } })
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}

t.test('records every PrepareConf and call, decoded, with the runner answers', async (t) => {
  const { url, runner } = await app(t, {
    id: 'api',
    plugins: {
      'ext-plugin-pre-req': { conf: [{ name: 'auth', value: '{"key":"k"}' }] },
      'ext-plugin-post-resp': { conf: [{ name: 'tag', value: '{}' }] },
    },
  })
  const ok = await get(`${url}/hello?user=ann`)
  t.equal(ok.status, 200)
  t.equal(ok.body, 'hello ann')
  t.equal(ok.headers['x-tagged'], '200', 'the response phase ran')
  const denied = await request(`${url}/hello`)
  t.equal(denied.statusCode, 401)
  t.equal(await denied.body.text(), 'no key')

  t.equal(runner.prepares.length, 2, 'one PrepareConf per ext-plugin, once')
  const [pre, post] = runner.prepares
  t.match(pre, { key: /^route#api#ext-plugin-pre-req#1-/, conf: [{ name: 'auth', value: '{"key":"k"}' }], fault: undefined })
  t.type(pre?.token, 'number')
  t.match(post, { key: /^route#api#ext-plugin-post-resp#1-/, conf: [{ name: 'tag', value: '{}' }] })

  t.equal(runner.calls.length, 3, 'request, response, request')
  const [first, second, third] = runner.calls
  t.match(first, { type: 'request', method: 'GET', path: '/hello', args: [{ name: 'user', value: 'ann' }], srcIp: '127.0.0.1', token: pre?.token })
  t.strictSame(first?.conf, [{ name: 'auth', value: '{"key":"k"}' }], 'the conf behind the token')
  t.ok(first?.type === 'request' && first.headers.some((h) => h.name === 'x-key' && h.value === 'k'), 'headers, lower-case')
  t.strictSame(first?.questions, [{ kind: 'var', name: 'arg_user' }], 'the ExtraInfo question the plugin asked')
  t.match(first?.type === 'request' ? first.reply : undefined, { action: 'rewrite', headers: [{ name: 'x-user', value: 'ann' }] })
  t.match(second, { type: 'response', status: 200, reply: { status: 0, headers: [] } })
  t.match(third?.type === 'request' ? third.reply : undefined, { action: 'stop', status: 401, headers: [{ name: 'x-why', value: 'key' }], body: 'no key' })

  runner.reset()
  t.equal(runner.calls.length + runner.prepares.length, 0, 'reset() forgets')
})

t.test("fail('close'): a connection closed before any answer", async (t) => {
  const { url, runner, codes } = await app(t, preReq())
  runner.fail('close')
  t.equal((await get(`${url}/hello`)).status, 503, 'on a new connection: 503')
  t.strictSame(codes, ['EXT_ERR_SOCKET_CLOSED'])
  t.equal((await get(`${url}/hello`)).status, 200, 'used once')
  runner.fail('close')
  t.equal((await get(`${url}/hello`)).status, 200, 'on a reused connection the client retries once on a new one')
  t.strictSame(runner.calls.slice(-2).map((c) => c.fault), ['close', undefined], 'both attempts recorded')
  runner.fail('close', { times: 2 })
  t.equal((await get(`${url}/hello`)).status, 503, 'the retry closed too: 503')
})

const CODES = { garbage: 'EXT_ERR_BAD_MESSAGE', 'rpc-error': 'EXT_ERR_RUNNER_REPLIED_ERROR' } as const
for (const kind of ['garbage', 'rpc-error'] as const) {
  t.test(`fail('${kind}'): the next call gets 503, the one after is served`, async (t) => {
    const { url, runner, codes } = await app(t, preReq())
    t.equal((await get(`${url}/hello`)).status, 200, 'warm: token cached')
    const fault = runner.fail(kind)
    const failed = await get(`${url}/hello`)
    t.equal(failed.status, 503)
    t.match(failed.body, /503 Service Temporarily Unavailable/, "nginx's page")
    t.equal(fault.hits, 1)
    t.equal(fault.remaining, 0)
    t.equal(runner.calls.at(-1)?.fault, kind, 'the call records its fault')
    t.strictSame(codes, [CODES[kind]], 'the error the library logged')
    t.equal((await get(`${url}/hello`)).status, 200, 'used once')
  })
}

t.test("fail('stall'): the call ends at callTimeout with 503", async (t) => {
  const { url, runner, codes } = await app(t, preReq(), { callTimeout: 300 })
  runner.fail('stall')
  t.equal((await get(`${url}/hello`)).status, 503)
  t.strictSame(codes, ['EXT_ERR_TIMEOUT'])
  t.equal(runner.calls.at(-1)?.fault, 'stall')
  t.equal((await get(`${url}/hello`)).status, 200, 'a new connection is served')
})

t.test("fail('token-not-found'): the client prepares again and retries; three in a row are a 503", async (t) => {
  const { url, runner, codes } = await app(t, preReq())
  t.equal((await get(`${url}/hello`)).status, 200)
  runner.fail('token-not-found')
  t.equal((await get(`${url}/hello`)).status, 200, 'one miss: retried')
  t.equal(runner.prepares.length, 2, 'prepared again')
  runner.fail('token-not-found', { times: 3 })
  t.equal((await get(`${url}/hello`)).status, 503, 'three misses')
  t.strictSame(codes, ['EXT_ERR_CONF_TOKEN_NOT_FOUND'])
  t.equal(runner.calls.filter((c) => c.fault === 'token-not-found').length, 4)
})

t.test("{ times: 'always' } until cleared; { on: 'prepare' }; error_response; allow_degradation", async (t) => {
  const { url, runner } = await app(t, preReq({ _meta: { error_response: { message: 'try later' } } }))
  const fault = runner.fail('rpc-error', { on: 'prepare', times: 'always' })
  for (let i = 0; i < 2; i++) {
    const res = await get(`${url}/hello`)
    t.equal(res.status, 503)
    t.equal(res.body, '{"message":"try later"}\n', '_meta.error_response')
  }
  t.equal(fault.hits, 2)
  t.equal(runner.calls.length, 0, 'no call without a token')
  fault.clear()
  t.equal((await get(`${url}/hello`)).status, 200, 'cleared')

  const degraded = await app(t, preReq({ allow_degradation: true }))
  degraded.runner.fail('close', { times: 'always' })
  const res = await get(`${degraded.url}/hello`)
  t.equal(res.status, 200, 'allow_degradation: the request goes on untouched')
  t.equal(res.body, 'hello undefined')
  degraded.runner.clearFaults()
  t.equal((await get(`${degraded.url}/hello`)).body, 'hello anonymous')
})

t.test("{ on: 'response' } hits only the response call", async (t) => {
  const { url, runner } = await app(t, {
    plugins: {
      'ext-plugin-pre-req': { conf: [{ name: 'auth', value: '{"key":"k"}' }] },
      'ext-plugin-post-resp': { conf: [{ name: 'tag', value: '{}' }] },
    },
  })
  runner.fail('garbage', { on: 'response' })
  t.equal((await get(`${url}/hello`)).status, 503)
  t.strictSame(
    runner.calls.map((c) => [c.type, c.fault]),
    [
      ['request', undefined],
      ['response', 'garbage'],
    ],
  )
})

t.test('wrong faults are refused; close() removes the socket directory', async (t) => {
  const runner = await fakeRunner({ plugins: [auth] })
  t.throws(() => runner.fail('explode' as 'close'), { code: 'EXT_ERR_INVALID_OPTIONS', message: /unknown fault "explode"/ })
  t.throws(() => runner.fail('token-not-found', { on: 'prepare' }), { code: 'EXT_ERR_INVALID_OPTIONS' })
  t.throws(() => runner.fail('close', { times: 0 }), { code: 'EXT_ERR_INVALID_OPTIONS' })
  t.ok(existsSync(runner.socket))
  await runner.close()
  t.notOk(existsSync(dirname(runner.socket)), 'the private directory is gone')
  await runner.close()
})
