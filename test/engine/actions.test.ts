// The runner's answers applied to the exchange through the three built-ins, with the mock
// runner answering exact messages (protocol.md §4.2–4.4, §5, §9): Stop, Rewrite, HTTPRespCall,
// the ExtraInfo answers taken from the exchange, and the HTTPReqCall fields themselves.
import t, { type Test } from 'tap'
import { applyRewrite, patchResponseHeaders } from '../../src/engine/apply-actions.js'
import { HeaderList } from '../../src/engine/headers.js'
import { ipBytes } from '../../src/engine/runner-plugins.js'
import { runRequestPhases } from '../../src/engine/run.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import * as P from '../../src/protocol/index.js'
import { exchangeOf } from '../helpers/exchange.js'
import { MockRunner, type MockCall, type MockHandlers } from '../helpers/mock-runner.js'
import { errorPageOf, pairs, plainResponse, prepareKeyPlugin, recordingLogger, reqCalls, respCalls, serve } from './support.js'

const PRE = 'ext-plugin-pre-req'
const POST = 'ext-plugin-post-req'
const RESP = 'ext-plugin-post-resp'
const runnerConf = { conf: [{ name: 'test', value: '{}' }] }

async function setup(t: Test, handlers: MockHandlers = {}) {
  const mock = await MockRunner.start(handlers)
  const log = recordingLogger()
  const ext = createExtPlugin({ runner: { socket: mock.path }, logger: log.logger })
  t.teardown(async () => {
    await ext.close()
    await mock.close()
  })
  return { mock, ext, log }
}

const reply = (call: MockCall, action: P.ReqCallAction | undefined): void => call.raw(P.encodeHTTPReqCallResponse({ id: 0, action }))
const stop = (s: Partial<Omit<P.StopAction, 'type'>>): P.StopAction => ({ type: 'stop', status: 0, headers: [], ...s })
const rewrite = (r: Partial<Omit<P.RewriteAction, 'type'>>): P.RewriteAction => ({ type: 'rewrite', headers: [], args: [], respHeaders: [], ...r })
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('latin1'))

t.test('Stop', async (t) => {
  let answer: P.StopAction = stop({})
  const { ext, log, mock } = await setup(t, { httpReqCall: (call) => reply(call, answer) })
  const cases: Array<{ name: string; stop: P.StopAction; status: number; headers: Array<[string, string]>; body: string | undefined; warn?: string }> = [
    { name: 'status 0 is 200, no body', stop: stop({}), status: 200, headers: [], body: undefined },
    {
      name: 'names lower-cased; a repeated name gives two lines; first sets',
      stop: stop({ status: 200, headers: [{ name: 'X-Same', value: 'one' }, { name: 'X-Same', value: 'two' }, { name: 'Content-Type', value: 'text/plain' }], body: Buffer.from('hi') }),
      status: 200,
      headers: [['x-same', 'one'], ['x-same', 'two'], ['content-type', 'text/plain']],
      body: 'hi',
    },
    {
      name: 'a header without value removes it',
      stop: stop({ status: 201, headers: [{ name: 'X-A', value: '1' }, { name: 'x-a' }, { name: 'X-B', value: 'b' }, { name: 'X-Gone' }], body: Buffer.from('x') }),
      status: 201,
      headers: [['x-b', 'b']],
      body: 'x',
    },
    {
      name: 'no filtering of vital headers',
      stop: stop({ status: 302, headers: [{ name: 'Location', value: '/login' }, { name: 'Server', value: 'runner' }, { name: 'Content-Length', value: '5' }], body: Buffer.from('go on') }),
      status: 302,
      headers: [['location', '/login'], ['server', 'runner'], ['content-length', '5']],
      body: 'go on',
    },
    {
      name: '>= 400 with a body',
      stop: stop({ status: 403, headers: [{ name: 'X-Reason', value: 'no' }], body: Buffer.from('denied') }),
      status: 403,
      headers: [['x-reason', 'no']],
      body: 'denied',
      warn: `${PRE} exits with http status code 403`,
    },
    {
      name: 'empty body is no body: the error page for >= 300',
      stop: stop({ status: 403, body: new Uint8Array(0) }),
      status: 403,
      headers: [['content-type', 'text/html']],
      body: errorPageOf('403 Forbidden'),
      warn: `${PRE} exits with http status code 403`,
    },
    { name: '302 without body', stop: stop({ status: 302, headers: [{ name: 'Location', value: '/x' }] }), status: 302, headers: [['location', '/x'], ['content-type', 'text/html']], body: errorPageOf('302 Found') },
    { name: '304 without body: no page', stop: stop({ status: 304 }), status: 304, headers: [], body: undefined },
    { name: 'binary body kept byte for byte', stop: stop({ body: Buffer.from([0, 0xff, 0xc3]) }), status: 200, headers: [], body: '\x00\xff\xc3' },
  ]
  const route = ext.route({ plugins: { [PRE]: runnerConf } })
  for (const c of cases) {
    answer = c.stop
    const served = await serve(route.pipeline, exchangeOf(), log.logger)
    t.equal(served.stopped, true, `${c.name}: stopped`)
    t.strictSame(plainResponse(served.response), { status: c.status, headers: c.headers, body: c.body }, c.name)
    t.strictSame(log.lines.splice(0).filter((l) => !l.startsWith('info ')), c.warn === undefined ? [] : [`warn ${c.warn}`], `${c.name}: log`)
  }

  // The same from post-req, and with _meta.error_response.
  answer = stop({ status: 401, headers: [{ name: 'WWW-Authenticate', value: 'Basic' }] })
  const post = ext.route({ plugins: { [POST]: { ...runnerConf, _meta: { error_response: { message: 'login first' } } } } })
  const served = await serve(post.pipeline, exchangeOf(), log.logger)
  t.strictSame(plainResponse(served.response), { status: 401, headers: [['www-authenticate', 'Basic']], body: '{"message":"login first"}\n' }, 'post-req Stop with error_response')
  t.strictSame(log.at('warn').splice(-1), [`${POST} exits with http status code 401`])
  t.equal(mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL), cases.length + 1)
})

t.test('Rewrite: path', async (t) => {
  let answer: P.ReqCallAction = rewrite({})
  const { ext, log } = await setup(t, { httpReqCall: (call) => reply(call, answer) })
  const route = ext.route({ plugins: { [PRE]: runnerConf } })
  const cases: Array<{ url: string; path: string; upstreamUri: string; url2: string }> = [
    { url: '/hello?c=foo&d=bar', path: '/new', upstreamUri: '/new', url2: '/new?c=foo&d=bar' },
    { url: '/hello', path: '/new', upstreamUri: '/new', url2: '/new' },
    { url: '/hello?', path: '/new', upstreamUri: '/new', url2: '/new' },
    { url: '/hello?c=foo', path: '/p?a=2', upstreamUri: '/p%3Fa=2', url2: '/p%3Fa=2?c=foo' },
    { url: '/hello', path: '/p?a=2', upstreamUri: '/p%3Fa=2', url2: '/p%3Fa=2' },
    { url: '/hello', path: '/a%20b', upstreamUri: '/a%2520b', url2: '/a%2520b' },
    { url: '/hello', path: '/new path/caf\xc3\xa9', upstreamUri: '/new%20path/caf%C3%A9', url2: '/new%20path/caf%C3%A9' },
    { url: '/hello', path: '', upstreamUri: '', url2: '' },
  ]
  for (const c of cases) {
    answer = rewrite({ path: c.path })
    const x = exchangeOf({ url: c.url })
    const served = await serve(route.pipeline, x, log.logger)
    t.equal(served.reachedApp, true)
    t.equal(x.upstreamUri, c.upstreamUri, `${c.url} + ${JSON.stringify(c.path)}: upstream_uri`)
    t.equal(x.url, c.url2, `${c.url} + ${JSON.stringify(c.path)}: the URL the application sees`)
    t.equal(x.variable('uri'), '/hello', '$uri unchanged')
  }
  // No path: the path is not touched.
  answer = rewrite({ headers: [{ name: 'X-A', value: '1' }] })
  const x = exchangeOf({ url: '/hello%20there?a=1' })
  await serve(route.pipeline, x, log.logger)
  t.equal(x.upstreamUri, undefined)
  t.equal(x.url, '/hello%20there?a=1', 'the raw path as received')
})

t.test('Rewrite: request headers, host', async (t) => {
  let answer: P.ReqCallAction = rewrite({})
  const { ext, log, mock } = await setup(t, { httpReqCall: (call) => reply(call, answer) })
  const route = ext.route({ plugins: { [PRE]: runnerConf, [POST]: runnerConf } })
  answer = rewrite({
    headers: [
      { name: 'X-Change', value: 'new' },
      { name: 'x-del' },
      { name: 'X-Add', value: 'v' },
      { name: 'X-Twice', value: 'first' },
      { name: 'X-Twice', value: 'last' },
      { name: 'Host', value: 'upstream.example:8080' },
    ],
  })
  const x = exchangeOf({
    headers: [['Host', 'client.example'], ['x-change', 'old1'], ['X-Keep', 'k'], ['X-Change', 'old2'], ['X-Del', 'd1'], ['x-del', 'd2']],
  })
  await serve(route.pipeline, x, log.logger)
  t.strictSame(
    [...x.headers],
    [['Host', 'upstream.example:8080'], ['X-Change', 'new'], ['X-Keep', 'k'], ['X-Add', 'v'], ['X-Twice', 'last']],
    'set replaces every line, missing value deletes, last wins, names as given',
  )
  t.equal(x.upstreamHost, 'upstream.example:8080')
  t.equal(x.variable('upstream_host'), 'upstream.example:8080')
  // post-req (the second HTTPReqCall) sees the changed headers, lower-cased, host = upstream host.
  const calls = reqCalls(mock)
  t.equal(calls.length, 2)
  t.strictSame(pairs(calls[1]!.headers), [['host', 'upstream.example:8080'], ['x-change', 'new'], ['x-keep', 'k'], ['x-add', 'v'], ['x-twice', 'last']])

  // A host set by Rewrite is what the next call sends, even when the Host line itself is later changed by a plugin.
  mock.received.length = 0
  answer = rewrite({ headers: [{ name: 'HOST', value: 'up.example' }] })
  const y = exchangeOf({ headers: [['Host', 'client.example']] })
  await runRequestPhases(route.pipeline, y, log.logger)
  t.equal(y.upstreamHost, 'up.example')
  t.strictSame(pairs(reqCalls(mock)[1]!.headers), [['host', 'up.example']])
})

t.test('Rewrite: body', async (t) => {
  let answer: P.ReqCallAction = rewrite({})
  const { ext, log } = await setup(t, { httpReqCall: (call) => reply(call, answer) })
  const route = ext.route({ plugins: { [PRE]: runnerConf } })
  answer = rewrite({ body: Buffer.from('new body \xff', 'latin1') })
  const x = exchangeOf({ method: 'POST', body: 'old body' })
  await serve(route.pipeline, x, log.logger)
  t.equal(x.body.replacement?.toString('latin1'), 'new body \xff')
  t.equal((await x.body.read())?.toString('latin1'), 'new body \xff', 'read() gives the replacement')

  // An empty vector cannot clear the body (APISIX: only a non-empty body replaces).
  const y = exchangeOf({ method: 'POST', body: 'old body' })
  applyRewrite(y, { type: 'rewrite', headers: [], args: [], respHeaders: [], body: new Uint8Array(0) })
  t.equal(y.body.replacement, undefined)
  t.equal((await y.body.read())?.toString(), 'old body')
  const z = exchangeOf({ method: 'POST', body: 'old body' })
  answer = rewrite({ body: new Uint8Array(0) })
  await serve(route.pipeline, z, log.logger)
  t.equal(z.body.replacement, undefined, 'through the runner too')
})

t.test('Rewrite: resp_headers', async (t) => {
  let answer: P.ReqCallAction = rewrite({})
  const { ext, log } = await setup(t, { httpReqCall: (call) => reply(call, answer) })
  const route = ext.route({ plugins: { [PRE]: runnerConf } })
  const excluded = ['Connection', 'Content-Length', 'Transfer-Encoding', 'Location', 'Server', 'WWW-Authenticate', 'Content-Encoding', 'Content-Type', 'Content-Location', 'Content-Language']
  answer = rewrite({
    respHeaders: [
      { name: 'X-Resp', value: 'foo' },
      ...excluded.map((name) => ({ name, value: 'runner' })),
      ...excluded.map((name) => ({ name: name.toLowerCase(), value: 'runner' })),
      { name: 'X-Same', value: 'one' },
      { name: 'X-Req', value: 'bar' },
      { name: 'x-same', value: 'two' },
    ],
  })
  const x = exchangeOf()
  await runRequestPhases(route.pipeline, x, log.logger)
  t.strictSame(x.responseHeaders, [
    { name: 'x-resp', value: 'foo', mode: 'set' },
    { name: 'x-same', value: 'one', mode: 'set' },
    { name: 'x-req', value: 'bar', mode: 'set' },
    { name: 'x-same', value: 'two', mode: 'append' },
  ])
  const app = HeaderList.from([
    ['Content-Type', 'text/plain'],
    ['X-Same', 'from the app'],
    ['X-Resp', 'from the app'],
    ['Server', 'app'],
  ])
  patchResponseHeaders(app, x)
  t.strictSame(
    [...app],
    [['Content-Type', 'text/plain'], ['x-same', 'one'], ['x-resp', 'foo'], ['Server', 'app'], ['x-req', 'bar'], ['x-same', 'two']],
    'set replaces what the application sent; the excluded names never touch it',
  )
  t.equal(x.url, '/hello', 'the request is not changed')
})

t.test('Rewrite: args', async (t) => {
  let answer: P.ReqCallAction = rewrite({})
  const { ext, log, mock } = await setup(t, { httpReqCall: (call) => reply(call, answer) })
  const route = ext.route({ plugins: { [PRE]: runnerConf } })
  const cases: Array<{ name: string; url: string; rewrite: P.RewriteAction; url2: string }> = [
    {
      // protocol.md §5.3: a = foo,bar; c = bar; no d.
      name: "APISIX's example",
      url: '/hello?c=foo&d=bar',
      rewrite: rewrite({ args: [{ name: 'a', value: 'foo' }, { name: 'd' }, { name: 'c', value: 'bar' }, { name: 'a', value: 'bar' }] }),
      url2: '/hello?c=bar&a=foo&a=bar',
    },
    {
      name: 'with a path',
      url: '/hello?c=foo&d=bar',
      rewrite: rewrite({ path: '/new', args: [{ name: 'a', value: 'foo' }, { name: 'd' }, { name: 'c', value: 'bar' }, { name: 'a', value: 'bar' }] }),
      url2: '/new?c=bar&a=foo&a=bar',
    },
    { name: 'deleting the only arg: no trailing ?', url: '/hello?d=1', rewrite: rewrite({ path: '/new', args: [{ name: 'd' }] }), url2: '/new' },
    { name: 'deleting without a path', url: '/hello?d=1', rewrite: rewrite({ args: [{ name: 'd' }] }), url2: '/hello' },
    { name: 'adding to no query', url: '/hello', rewrite: rewrite({ args: [{ name: 'q', value: 'a b&c' }] }), url2: '/hello?q=a%20b%26c' },
    { name: 'a bare arg is kept bare', url: '/hello?z&a=1', rewrite: rewrite({ args: [{ name: 'a', value: '2' }] }), url2: '/hello?z&a=2' },
  ]
  for (const c of cases) {
    answer = c.rewrite
    const x = exchangeOf({ url: c.url })
    await serve(route.pipeline, x, log.logger)
    t.equal(x.url, c.url2, c.name)
  }
  // The args the runner was sent for the first case: one entry per value.
  t.strictSame(pairs(reqCalls(mock)[0]!.args), [['c', 'foo'], ['d', 'bar']])
  t.strictSame(log.at('error'), [])
})

t.test("what post-req's HTTPReqCall carries after pre-req rewrote path, args and headers", async (t) => {
  const byToken = new Map<number, string>()
  const { ext, log, mock } = await setup(t, {
    prepareConf(call, mock) {
      byToken.set(mock.grantToken(call), prepareKeyPlugin(call.payload))
    },
    httpReqCall(call) {
      const req = P.decodeHTTPReqCallRequest(call.payload)
      if (byToken.get(req.confToken) !== PRE) return reply(call, undefined)
      reply(
        call,
        rewrite({
          path: '/new path?',
          headers: [{ name: 'X-Added', value: 'yes' }, { name: 'x-gone' }, { name: 'Host', value: 'up.example' }],
          args: [{ name: 'c', value: 'bar' }, { name: 'n', value: P.utf8ToBinary('é') }, { name: 'd' }],
        }),
      )
    },
  })
  const route = ext.route({ plugins: { [PRE]: runnerConf, [POST]: runnerConf } })
  const x = exchangeOf({ method: 'DELETE', url: '/a/../hello?c=foo&d=bar&z', headers: [['Host', 'client.example'], ['X-Gone', '1'], ['X-Kept', 'k']] })
  const served = await serve(route.pipeline, x, log.logger)
  t.equal(served.reachedApp, true)
  const [pre, post] = reqCalls(mock)
  t.strictSame(
    { method: pre!.method, path: pre!.path, args: pairs(pre!.args), headers: pairs(pre!.headers) },
    { method: P.Method.DELETE, path: '/hello', args: [['c', 'foo'], ['d', 'bar'], ['z', null]], headers: [['host', 'client.example'], ['x-gone', '1'], ['x-kept', 'k']] },
    'pre-req',
  )
  t.strictSame(
    { method: post!.method, path: post!.path, args: pairs(post!.args), headers: pairs(post!.headers) },
    {
      method: P.Method.DELETE,
      // $upstream_uri up to its query: the escaped path, as APISIX sends it.
      path: '/new%20path%3F',
      args: [['c', 'bar'], ['z', null], ['n', '\xc3\xa9']],
      headers: [['host', 'up.example'], ['x-kept', 'k'], ['x-added', 'yes']],
    },
    'post-req',
  )
  t.not(pre!.confToken, post!.confToken, 'each plugin has its own token')
  t.equal(x.url, '/new%20path%3F?c=bar&z&n=%C3%A9')
})

t.test('HTTPRespCall: the request and the answer applied', async (t) => {
  let answer: P.HTTPRespCallResponse = { id: 0, status: 0, headers: [] }
  const { ext, log, mock } = await setup(t, { httpRespCall: (call) => call.raw(P.encodeHTTPRespCallResponse(answer)) })
  const route = ext.route({ plugins: { [RESP]: runnerConf } })
  const app = { status: 201, headers: [['Content-Type', 'text/plain'], ['X-Up', '1'], ['x-up', '2'], ['Server', 'app']] as Array<[string, string]>, body: 'upstream body' }
  const appHeaders = app.headers
  const cases: Array<{ name: string; answer: P.HTTPRespCallResponse; status: number; headers: Array<[string, string]>; body: string }> = [
    { name: 'status 0 keeps, empty headers keep, no body keeps', answer: { id: 0, status: 0, headers: [] }, status: 201, headers: appHeaders, body: 'upstream body' },
    { name: 'a new status', answer: { id: 0, status: 418, headers: [] }, status: 418, headers: appHeaders, body: 'upstream body' },
    { name: 'a new body', answer: { id: 0, status: 0, headers: [], body: Buffer.from('replaced') }, status: 201, headers: appHeaders, body: 'replaced' },
    { name: 'an empty body keeps', answer: { id: 0, status: 0, headers: [], body: new Uint8Array(0) }, status: 201, headers: appHeaders, body: 'upstream body' },
    {
      name: 'non-empty headers replace all, lower-cased, first sets, later append, no filtering',
      answer: { id: 0, status: 200, headers: [{ name: 'X-New', value: 'a' }, { name: 'X-NEW', value: 'b' }, { name: 'Content-Type', value: 'application/json' }, { name: 'Content-Length', value: '2' }], body: Buffer.from('{}') },
      status: 200,
      headers: [['x-new', 'a'], ['x-new', 'b'], ['content-type', 'application/json'], ['content-length', '2']],
      body: '{}',
    },
    {
      name: 'an entry without value in the list is skipped',
      answer: { id: 0, status: 0, headers: [{ name: 'X-Only', value: 'o' }, { name: 'X-Nothing' }] },
      status: 201,
      headers: [['x-only', 'o']],
      body: 'upstream body',
    },
  ]
  for (const c of cases) {
    answer = c.answer
    const served = await serve(route.pipeline, exchangeOf(), log.logger, app)
    t.strictSame(plainResponse(served.response), { status: c.status, headers: c.headers, body: c.body }, c.name)
  }
  const sent = respCalls(mock)
  t.equal(sent.length, cases.length)
  t.strictSame(
    { status: sent[0]!.status, headers: pairs(sent[0]!.headers) },
    { status: 201, headers: [['Content-Type', 'text/plain'], ['X-Up', '1'], ['x-up', '2'], ['Server', 'app']] },
    "the application's status and headers, case as sent, one entry per line",
  )
  t.strictSame(log.at('error'), [])
  t.strictSame(log.at('warn'), [], 'a status >= 400 from post-resp is not a plugin exit')
})

t.test('ExtraInfo answers from the exchange', async (t) => {
  type Q = { var: string } | { body: 'req' | 'resp' }
  let questions: Q[] = []
  const answers: Array<Array<string | null>> = []
  const ask = async (call: MockCall) => {
    const got: Array<string | null> = []
    for (const q of questions) {
      const result =
        'var' in q
          ? await call.ask({ kind: P.Info.Var, name: q.var })
          : await call.ask({ kind: q.body === 'req' ? P.Info.ReqBody : P.Info.RespBody })
      got.push(result === undefined ? null : result.toString('latin1'))
    }
    answers.push(got)
  }
  const { ext, log } = await setup(t, {
    async httpReqCall(call) {
      await ask(call)
      reply(call, undefined)
    },
    async httpRespCall(call) {
      await ask(call)
      call.raw(P.encodeHTTPRespCallResponse({ id: 0, status: 0, headers: [] }))
    },
  })

  const vars: Array<[string, string | null]> = [
    ['uri', '/a b'],
    ['request_uri', '/a%20b?z&x=&y=%C3%A9&y=2'],
    ['arg_z', 'true'],
    ['arg_x', ''],
    ['arg_y', '\xc3\xa9'],
    ['arg_missing', null],
    ['http_x_foo', 'one, two'],
    ['http_nope', null],
    ['cookie_s', 'abc'],
    ['remote_addr', '127.0.0.1'],
    ['remote_port', '50000'],
    ['server_addr', '127.0.0.1'],
    ['server_port', '9080'],
    ['host', 'example.com'],
    ['route_id', 'extra-info'],
    ['method', 'POST'],
    ['erver_addr', null],
    ['mine', '42'],
    ['constructor', null],
  ]
  const variables = (name: string) => (name === 'mine' ? 42 : undefined)
  const route = ext.route({ id: 'extra-info', plugins: { [PRE]: runnerConf } })
  questions = vars.map(([name]) => ({ var: name }))
  await serve(
    route.pipeline,
    exchangeOf({ method: 'POST', url: '/a%20b?z&x=&y=%C3%A9&y=2', headers: [['Host', 'Example.com'], ['X-Foo', 'one'], ['X-Foo', 'two'], ['Cookie', 's=abc']], init: { variables } }),
    log.logger,
  )
  const got = answers.splice(0)[0]!
  for (let i = 0; i < vars.length; i++) t.equal(got[i], vars[i]![1], `Var ${vars[i]![0]}`)

  // ReqBody, RespBody in pre-req and post-req: the body, or absent; RespBody absent with an error log.
  questions = [{ body: 'req' }, { body: 'resp' }, { body: 'req' }]
  const both = ext.route({ plugins: { [PRE]: runnerConf, [POST]: runnerConf, [RESP]: runnerConf } })
  log.lines.length = 0
  await serve(both.pipeline, exchangeOf({ method: 'POST', body: Buffer.from([0, 1, 0xfe, 0xff]) }), log.logger, { body: 'the response' })
  t.strictSame(answers.splice(0), [
    ['\x00\x01\xfe\xff', null, '\x00\x01\xfe\xff'],
    ['\x00\x01\xfe\xff', null, '\x00\x01\xfe\xff'],
    ['\x00\x01\xfe\xff', 'the response', '\x00\x01\xfe\xff'],
  ], 'pre-req, post-req, post-resp')
  t.strictSame(log.at('error'), ['failed to read response body: not exits', 'failed to read response body: not exits'])

  log.lines.length = 0
  await serve(both.pipeline, exchangeOf({ method: 'GET' }), log.logger, { body: '' })
  t.strictSame(answers.splice(0), [
    [null, null, null],
    [null, null, null],
    [null, '', null],
  ], 'no request body: absent; an empty response body: present and empty')

  // After a Rewrite replaced the body, post-req's ReqBody is the new one.
  const pluginOf = new Map<number, string>()
  const replacing = await MockRunner.start({
    prepareConf(call, mock) {
      pluginOf.set(mock.grantToken(call), prepareKeyPlugin(call.payload))
    },
    async httpReqCall(call) {
      const req = P.decodeHTTPReqCallRequest(call.payload)
      if (pluginOf.get(req.confToken) === PRE) return reply(call, rewrite({ body: Buffer.from('replaced') }))
      answers.push([text(await call.ask({ kind: P.Info.ReqBody })) ?? null])
      reply(call, undefined)
    },
  })
  const ext2 = createExtPlugin({ runner: { socket: replacing.path } })
  t.teardown(async () => {
    await ext2.close()
    await replacing.close()
  })
  await serve(ext2.route({ plugins: { [PRE]: runnerConf, [POST]: runnerConf } }).pipeline, exchangeOf({ method: 'PUT', body: 'original' }), log.logger)
  t.strictSame(answers.splice(0), [['replaced']])
})

t.test('HTTPReqCall fields', async (t) => {
  const { ext, log, mock } = await setup(t)
  const route = ext.route({ plugins: { [PRE]: runnerConf } })
  const send = async (request: Parameters<typeof exchangeOf>[0]) => {
    mock.received.length = 0
    await runRequestPhases(route.pipeline, exchangeOf(request), log.logger)
    return reqCalls(mock)[0]!
  }
  const first = await send({})
  t.strictSame({ id: first.id, confToken: first.confToken }, { id: 1, confToken: 1 }, 'the first call has id 1 (never 0: the Python runner rejects it) and the first token')
  t.equal((await send({})).id, 2, 'ids count up')

  const addresses: Array<[string, number[]]> = [
    ['127.0.0.1', [127, 0, 0, 1]],
    ['10.1.2.3', [10, 1, 2, 3]],
    ['::1', [...Array(15).fill(0), 1]],
    ['fe80::2a', [0xfe, 0x80, ...Array(13).fill(0), 0x2a]],
    ['fe80::1%eth0', [0xfe, 0x80, ...Array(13).fill(0), 1]],
    ['2001:db8::ff00:42:8329', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29]],
    ['::ffff:1.2.3.4', [1, 2, 3, 4]],
    ['', [0, 0, 0, 0]],
  ]
  for (const [address, bytes] of addresses) {
    t.strictSame([...(await send({ remoteAddress: address })).srcIp], bytes, `src_ip of ${JSON.stringify(address)}`)
    t.strictSame([...ipBytes(address)], bytes, `ipBytes(${JSON.stringify(address)})`)
  }

  const methods: Array<[string, number]> = [
    ['GET', 0], ['HEAD', 1], ['POST', 2], ['PUT', 3], ['DELETE', 4], ['MKCOL', 5], ['COPY', 6], ['MOVE', 7],
    ['OPTIONS', 8], ['PROPFIND', 9], ['PROPPATCH', 10], ['LOCK', 11], ['UNLOCK', 12], ['PATCH', 13], ['TRACE', 14],
  ]
  for (const [method, code] of methods) t.equal((await send({ method })).method, code, `method ${method}`)

  const call = await send({
    url: '/a//b/./c/../d%20e%2Fcaf%C3%A9?xx=y&xx=z&&y=&&z&p=a+b%2B',
    headers: [['Host', 'Example.com:8080'], ['X-Multi', 'a'], ['x-multi', 'b'], ['Connection', 'close'], ['Content-Type', 'text/plain']],
  })
  t.equal(call.path, '/a/b/d e/caf\xc3\xa9', 'path: the decoded, normalised uri')
  t.strictSame(pairs(call.args), [['xx', 'y'], ['xx', 'z'], ['y', ''], ['z', null], ['p', 'a b+']], 'args: one entry per value, bare without value')
  t.strictSame(
    pairs(call.headers),
    [['host', 'Example.com:8080'], ['x-multi', 'a'], ['x-multi', 'b'], ['connection', 'close'], ['content-type', 'text/plain']],
    'headers: lower-cased, one entry per line, nothing filtered',
  )
  t.equal(call.confToken, 1, 'the token is reused')

  const empty = await send({ url: '/', headers: [] })
  t.strictSame({ args: empty.args, headers: empty.headers }, { args: [], headers: [] }, 'vectors present, empty')
  t.strictSame(log.at('error'), [])
})
