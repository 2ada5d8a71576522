// Runner failures through the engine (protocol.md §7): every failure is a 503 with nginx's
// page (or `_meta.error_response`), or, with `allow_degradation`, the request carries on
// untouched; the error text is logged at error level; never a crash, never a hang.
import t, { type Test } from 'tap'
import { createExtPlugin } from '../../src/ext-plugin.js'
import * as P from '../../src/protocol/index.js'
import { exchangeOf } from '../helpers/exchange.js'
import { MockRunner, type MockHandlers } from '../helpers/mock-runner.js'
import { errorPageOf, plainResponse, recordingLogger, serve } from './support.js'

const PRE = 'ext-plugin-pre-req'
const POST = 'ext-plugin-post-req'
const RESP = 'ext-plugin-post-resp'
const runnerConf = { conf: [{ name: 'test', value: '{}' }] }
const PAGE_503 = { status: 503, headers: [['content-type', 'text/html']], body: errorPageOf('503 Service Temporarily Unavailable') }
const APP = { status: 200, headers: [['Content-Type', 'text/plain']], body: 'from the app' }
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')

async function setup(t: Test, handlers: MockHandlers, callTimeout?: number) {
  const mock = await MockRunner.start(handlers)
  const log = recordingLogger()
  const ext = createExtPlugin({ runner: { socket: mock.path }, logger: log.logger, callTimeout })
  t.teardown(async () => {
    await ext.close()
    await mock.close()
  })
  return { mock, ext, log }
}

interface Fault {
  name: string
  handlers: MockHandlers
  /** The error logged, for a call from the request phases. */
  error: string | RegExp
  callTimeout?: number
}

const faults: Fault[] = [
  { name: 'RPC_ERROR service unavailable', handlers: { httpReqCall: (c) => c.error(P.ErrCode.SERVICE_UNAVAILABLE) }, error: 'failed to receive RPC_HTTP_REQ_CALL: service unavailable' },
  { name: 'RPC_ERROR bad request', handlers: { httpReqCall: (c) => c.error(P.ErrCode.BAD_REQUEST) }, error: 'failed to receive RPC_HTTP_REQ_CALL: bad request' },
  { name: 'RPC_ERROR on PrepareConf', handlers: { prepareConf: (c) => c.error(P.ErrCode.BAD_REQUEST) }, error: 'failed to receive RPC_PREPARE_CONF: bad request' },
  { name: 'closed before answering', handlers: { httpReqCall: (c) => c.close() }, error: 'failed to receive RPC_HTTP_REQ_CALL: closed' },
  {
    name: 'closed in the middle of an ExtraInfo round',
    handlers: {
      httpReqCall: (c) => {
        c.raw(P.encodeExtraInfoRequest({ kind: P.Info.Var, name: 'uri' }))
        c.close()
      },
    },
    error: 'failed to receive RPC_HTTP_REQ_CALL: closed',
  },
  {
    name: 'truncated payload',
    handlers: { httpReqCall: (c) => (c.raw(Buffer.from([2, 0, 0, 20, 1, 2, 3])), c.close()) },
    error: 'failed to receive RPC_HTTP_REQ_CALL: closed (data truncated: got 3 of 20 payload bytes)',
  },
  { name: 'stalls past callTimeout', handlers: { httpReqCall: () => new Promise(() => {}) }, error: 'failed to receive RPC_HTTP_REQ_CALL: timeout', callTimeout: 100 },
  { name: 'PrepareConf stalls past callTimeout', handlers: { prepareConf: () => new Promise(() => {}) }, error: 'failed to receive RPC_PREPARE_CONF: timeout', callTimeout: 100 },
  { name: 'garbage FlatBuffer', handlers: { httpReqCall: (c) => c.send(2, hex('ffffff7f 0000 1122 3344')) }, error: /^failed to receive RPC_HTTP_REQ_CALL: bad message: / },
  { name: 'zero-length payload', handlers: { httpReqCall: (c) => c.send(2, Buffer.alloc(0)) }, error: 'failed to receive RPC_HTTP_REQ_CALL: bad message: empty payload, expected HTTPReqCall.Resp' },
  { name: 'a frame of the wrong type', handlers: { httpReqCall: (c) => c.raw(P.encodeHTTPRespCallResponse({ id: 0, status: 200, headers: [] })) }, error: 'failed to receive RPC_HTTP_REQ_CALL: unexpected type 4' },
  {
    name: 'an unsupported ExtraInfo question',
    handlers: { httpReqCall: (c) => c.raw(P.encodeExtraInfoRequest({ kind: 7 as typeof P.Info.ReqBody })) },
    error: 'failed to handle RPC_EXTRA_INFO: unsupported info type: 7',
  },
]

t.test('each fault: 503 and the error page, the error logged', async (t) => {
  for (const f of faults) {
    await t.test(f.name, async (t) => {
      const { ext, log } = await setup(t, f.handlers, f.callTimeout)
      for (const plugin of [PRE, POST]) {
        const started = performance.now()
        const served = await serve(ext.route({ plugins: { [plugin]: runnerConf } }).pipeline, exchangeOf(), log.logger)
        t.ok(performance.now() - started < 3000, `${plugin}: no hang`)
        t.equal(served.reachedApp, false, `${plugin}: the application is not reached`)
        t.strictSame(plainResponse(served.response), PAGE_503, `${plugin}: 503`)
        const lines = log.lines.splice(0).filter((l) => !l.startsWith('info '))
        t.equal(lines.length, 2, `${plugin}: two lines`)
        t.match(lines[0], typeof f.error === 'string' ? `error ${f.error}` : new RegExp(`^error ${f.error.source.slice(1)}`), `${plugin}: the error`)
        if (typeof f.error === 'string') t.equal(lines[0], `error ${f.error}`)
        t.equal(lines[1], `warn ${plugin} exits with http status code 503`)
      }
    })
  }
})

t.test('each fault with _meta.error_response: the 503 gets that body', async (t) => {
  for (const f of faults.slice(0, 4)) {
    await t.test(f.name, async (t) => {
      const { ext, log } = await setup(t, f.handlers, f.callTimeout)
      const text = ext.route({ plugins: { [PRE]: { ...runnerConf, _meta: { error_response: 'runner down' } } } })
      const json = ext.route({ plugins: { [POST]: { ...runnerConf, _meta: { error_response: { error: 'runner down' } } } } })
      t.strictSame(plainResponse((await serve(text.pipeline, exchangeOf(), log.logger)).response), { status: 503, headers: [], body: 'runner down' })
      t.strictSame(plainResponse((await serve(json.pipeline, exchangeOf(), log.logger)).response), { status: 503, headers: [], body: '{"error":"runner down"}\n' })
    })
  }
})

t.test('each fault with allow_degradation: the request carries on untouched', async (t) => {
  for (const f of faults) {
    await t.test(f.name, async (t) => {
      const { ext, log } = await setup(t, f.handlers, f.callTimeout)
      const route = ext.route({ plugins: { [PRE]: { ...runnerConf, allow_degradation: true }, [POST]: { ...runnerConf, allow_degradation: true } } })
      const x = exchangeOf({ url: '/hello?a=1', headers: [['Host', 'h'], ['X-A', '1']] })
      const served = await serve(route.pipeline, x, log.logger)
      t.equal(served.reachedApp, true)
      t.strictSame(plainResponse(served.response), APP)
      t.equal(x.url, '/hello?a=1')
      t.strictSame([...x.headers], [['Host', 'h'], ['X-A', '1']])
      const lines = log.lines.filter((l) => !l.startsWith('info '))
      t.equal(lines.length, 4, 'two plugins, two lines each')
      for (const i of [0, 2]) {
        if (typeof f.error === 'string') t.equal(lines[i], `error ${f.error}`)
        else t.match(lines[i], new RegExp(`^error ${f.error.source.slice(1)}`))
        t.equal(lines[i + 1], 'warn Plugin Runner is wrong, allow degradation')
      }
    })
  }
})

t.test('conf token not found three times', async (t) => {
  const { ext, log, mock } = await setup(t, { httpReqCall: (c) => c.error(P.ErrCode.CONF_TOKEN_NOT_FOUND) })
  const strict = ext.route({ plugins: { [PRE]: runnerConf } })
  let served = await serve(strict.pipeline, exchangeOf(), log.logger)
  t.strictSame(plainResponse(served.response), PAGE_503)
  t.strictSame(log.lines.splice(0).filter((l) => !l.startsWith('info ')), [
    'warn refresh cache and try again',
    'warn refresh cache and try again',
    'warn refresh cache and try again',
    'error failed to receive RPC_HTTP_REQ_CALL: conf token not found',
    `warn ${PRE} exits with http status code 503`,
  ])
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 3, 'prepared again before each attempt')
  t.equal(mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL), 3, 'three attempts')

  const degrading = ext.route({ plugins: { [POST]: { ...runnerConf, allow_degradation: true } } })
  served = await serve(degrading.pipeline, exchangeOf(), log.logger)
  t.strictSame(plainResponse(served.response), APP)
  t.strictSame(log.lines.splice(0).filter((l) => !l.startsWith('info ')), [
    'warn refresh cache and try again',
    'warn refresh cache and try again',
    'warn refresh cache and try again',
    'error failed to receive RPC_HTTP_REQ_CALL: conf token not found',
    'warn Plugin Runner is wrong after 3 times retry, allow degradation',
  ])

  // Refused once, then served: no error at all.
  let refusals = 1
  mock.handlers = {
    httpReqCall: (c) => (refusals-- > 0 ? c.error(P.ErrCode.CONF_TOKEN_NOT_FOUND) : c.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))),
  }
  served = await serve(strict.pipeline, exchangeOf(), log.logger)
  t.strictSame(plainResponse(served.response), APP)
  t.strictSame(log.lines.splice(0).filter((l) => !l.startsWith('info ')), ['warn refresh cache and try again'])
})

t.test('an HTTP method without a protocol code: 503 or degradation, nothing sent', async (t) => {
  const { ext, log, mock } = await setup(t, {})
  const strict = ext.route({ plugins: { [PRE]: runnerConf } })
  const degrading = ext.route({ plugins: { [POST]: { ...runnerConf, allow_degradation: true } } })
  for (const method of ['CONNECT', 'PURGE', 'FOO', 'get']) {
    let served = await serve(strict.pipeline, exchangeOf({ method }), log.logger)
    t.strictSame(plainResponse(served.response), PAGE_503, `${method}: 503`)
    t.strictSame(log.lines.splice(0), [`error the HTTP method ${method} has no code in the protocol`, `warn ${PRE} exits with http status code 503`])
    served = await serve(degrading.pipeline, exchangeOf({ method }), log.logger)
    t.strictSame(plainResponse(served.response), APP, `${method}: degraded`)
    t.strictSame(log.lines.splice(0), [`error the HTTP method ${method} has no code in the protocol`, 'warn Plugin Runner is wrong, allow degradation'])
  }
  t.equal(mock.received.length, 0, 'not a single frame was sent')
  t.equal(mock.connections, 0)
})

t.test('post-resp failures: 503 replacing the response, or the application response untouched', async (t) => {
  const cases: Array<{ name: string; handlers: MockHandlers; error: string; callTimeout?: number }> = [
    { name: 'RPC_ERROR', handlers: { httpRespCall: (c) => c.error(P.ErrCode.SERVICE_UNAVAILABLE) }, error: 'failed to receive RPC_HTTP_RESP_CALL: service unavailable' },
    { name: 'closed', handlers: { httpRespCall: (c) => c.close() }, error: 'failed to receive RPC_HTTP_RESP_CALL: closed' },
    { name: 'timeout', handlers: { httpRespCall: () => new Promise(() => {}) }, error: 'failed to receive RPC_HTTP_RESP_CALL: timeout', callTimeout: 100 },
    { name: 'wrong type', handlers: { httpRespCall: (c) => c.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined })) }, error: 'failed to receive RPC_HTTP_RESP_CALL: unexpected type 2' },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const { ext, log } = await setup(t, c.handlers, c.callTimeout)
      const app = { status: 201, headers: [['X-App', '1']] as Array<[string, string]>, body: 'app body' }
      let served = await serve(ext.route({ plugins: { [RESP]: runnerConf } }).pipeline, exchangeOf(), log.logger, app)
      t.equal(served.reachedApp, true)
      t.strictSame(plainResponse(served.response), PAGE_503)
      t.strictSame(log.at('error').splice(0), [c.error])
      log.lines.length = 0
      served = await serve(ext.route({ plugins: { [RESP]: { ...runnerConf, allow_degradation: true } } }).pipeline, exchangeOf(), log.logger, app)
      t.strictSame(plainResponse(served.response), { status: 201, headers: [['X-App', '1']], body: 'app body' })
      t.strictSame(log.lines.filter((l) => !l.startsWith('info ')), [`error ${c.error}`, 'warn Plugin Runner is wrong, allow degradation'])
    })
  }
})

t.test('the runner is not there at all', async (t) => {
  const log = recordingLogger()
  const ext = createExtPlugin({ runner: { socket: 'unix:/nonexistent/dir/runner.sock' }, logger: log.logger })
  t.teardown(() => ext.close())
  const served = await serve(ext.route({ plugins: { [PRE]: runnerConf } }).pipeline, exchangeOf(), log.logger)
  t.strictSame(plainResponse(served.response), PAGE_503)
  t.strictSame(log.lines, ['error failed to connect to the unix socket unix:/nonexistent/dir/runner.sock: no such file or directory', `warn ${PRE} exits with http status code 503`])
})

t.test('no runner configured but an ext-plugin used: 503 with a clear error', async (t) => {
  const log = recordingLogger()
  const ext = createExtPlugin({ logger: log.logger })
  t.teardown(() => ext.close())
  for (const plugin of [PRE, POST, RESP]) {
    const served = await serve(ext.route({ plugins: { [plugin]: runnerConf } }).pipeline, exchangeOf(), log.logger)
    t.strictSame(plainResponse(served.response), PAGE_503, plugin)
    t.strictSame(log.lines.splice(0), ['error no runner is configured: pass `runner` to createExtPlugin', `warn ${plugin} exits with http status code 503`], `${plugin}: log`)
  }
  const degraded = await serve(ext.route({ plugins: { [PRE]: { ...runnerConf, allow_degradation: true } } }).pipeline, exchangeOf(), log.logger)
  t.strictSame(plainResponse(degraded.response), APP, 'degradation applies too')
})

t.test('after ext.close(): 503, not a crash', async (t) => {
  const { ext, log } = await setup(t, {})
  const route = ext.route({ plugins: { [PRE]: runnerConf } })
  t.strictSame(plainResponse((await serve(route.pipeline, exchangeOf(), log.logger)).response), APP)
  await ext.close()
  log.lines.length = 0
  t.strictSame(plainResponse((await serve(route.pipeline, exchangeOf(), log.logger)).response), PAGE_503)
  t.strictSame(log.lines, ['error the runner client is closed', `warn ${PRE} exits with http status code 503`])
})

t.test('a failure does not poison later requests', async (t) => {
  let fail = true
  const { ext, log } = await setup(t, {
    httpReqCall: (c) => (fail ? c.close() : c.raw(P.encodeHTTPReqCallResponse({ id: 0, action: { type: 'stop', status: 202, headers: [] } }))),
  })
  const route = ext.route({ plugins: { [PRE]: runnerConf } })
  t.equal((await serve(route.pipeline, exchangeOf(), log.logger)).response.status, 503)
  fail = false
  t.equal((await serve(route.pipeline, exchangeOf(), log.logger)).response.status, 202)
  // Concurrent failures and successes.
  let n = 0
  fail = false
  const flaky = await MockRunner.start({
    httpReqCall: (c) => (n++ % 2 === 0 ? c.error(P.ErrCode.SERVICE_UNAVAILABLE) : c.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))),
  })
  const ext2 = createExtPlugin({ runner: { socket: flaky.path } })
  t.teardown(async () => {
    await ext2.close()
    await flaky.close()
  })
  const route2 = ext2.route({ plugins: { [PRE]: runnerConf } })
  const statuses = await Promise.all(Array.from({ length: 40 }, () => serve(route2.pipeline, exchangeOf(), log.logger).then((s) => s.response.status)))
  t.equal(statuses.filter((s) => s === 503).length, 20)
  t.equal(statuses.filter((s) => s === 200).length, 20)
})
