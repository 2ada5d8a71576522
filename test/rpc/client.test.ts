// RunnerClient against the scriptable mock runner: the normal conversation, the retry on
// `conf token not found`, and every fault, each ending in its typed error within its
// timeout, with no socket left open and no unhandled rejection.
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { ErrorCode } from '../../src/errors.js'
import * as P from '../../src/protocol/index.js'
import { RunnerClient, type RunnerClientOptions } from '../../src/rpc/client.js'
import { MockRunner, type MockHandlers } from '../helpers/mock-runner.js'

const conf = { key: 'route#1#ext-plugin-pre-req#1', conf: [{ name: 'say', value: '{}' }] }
const request: Parameters<RunnerClient['httpReqCall']>[1] = {
  srcIp: Buffer.from([127, 0, 0, 1]),
  method: P.Method.GET,
  path: '/hello',
  args: [],
  headers: [{ name: 'host', value: 'localhost' }],
}

async function setup(t: Test, handlers: MockHandlers = {}, options: Partial<RunnerClientOptions> = {}) {
  const mock = await MockRunner.start(handlers)
  const client = new RunnerClient({ socketPath: mock.path, ...options })
  t.teardown(async () => {
    client.destroy()
    await mock.close()
  })
  return { mock, client }
}

/** Sockets close asynchronously on both ends; give them a moment, then count. */
async function noLeaks(t: Test, mock: MockRunner, client: RunnerClient, idle = 0): Promise<void> {
  for (let i = 0; i < 50 && (mock.openConnections > idle || client.stats.open > idle); i++) await sleep(10)
  t.equal(client.stats.open, idle, 'client sockets open')
  t.equal(mock.openConnections, idle, 'runner-side sockets open')
}

t.test('PrepareConf once (on a connection of its own, not kept), then every call reuses the token and one pooled connection', async (t) => {
  const { mock, client } = await setup(t)
  for (let i = 0; i < 5; i++) t.same(await client.httpReqCall(conf, request), { id: i + 1, actionType: 0, action: undefined })
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 1)
  const prepare = P.decodePrepareConfRequest(mock.received[0]!.payload)
  t.same(prepare, { key: conf.key, conf: [{ name: 'say', value: '{}' }] })
  const calls = mock.received.filter((f) => f.type === P.MessageType.RPC_HTTP_REQ_CALL).map((f) => P.decodeHTTPReqCallRequest(f.payload))
  t.same(calls.map((c) => c.id), [1, 2, 3, 4, 5], 'call ids count from 1 (the Python runner rejects 0)')
  t.same(calls.map((c) => c.confToken), [1, 1, 1, 1, 1])
  t.equal(client.stats.opened, 2, 'one connection for the PrepareConf, one served every call')
  t.equal(client.stats.idle, 1)
  await noLeaks(t, mock, client, 1)
})

t.test('a new config version is a new PrepareConf; concurrent misses share one', async (t) => {
  const { mock, client } = await setup(t)
  await Promise.all(Array.from({ length: 50 }, () => client.httpReqCall(conf, request)))
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 1)
  await client.httpReqCall({ ...conf, key: 'route#1#ext-plugin-pre-req#2' }, request)
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 2)
})

t.test('call ids wrap at 2^22', async (t) => {
  t.equal(P.nextCallId(0), 1)
  t.equal(P.nextCallId(P.CALL_ID_WRAP - 1), 0)
})

t.test('conf token not found: flush, prepare again, retry; 3 attempts at most', async (t) => {
  let refusals = 1
  const { mock, client } = await setup(t, {
    httpReqCall(call) {
      if (refusals-- > 0) return call.error(P.ErrCode.CONF_TOKEN_NOT_FOUND)
      call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))
    },
  })
  await client.httpReqCall(conf, request)
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 2, 're-prepared after the refusal')
  const tokens = mock.received.filter((f) => f.type === 2).map((f) => P.decodeHTTPReqCallRequest(f.payload).confToken)
  t.same(tokens, [1, 2])

  refusals = 10
  const before = mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL)
  await t.rejects(client.httpReqCall(conf, request), {
    code: ErrorCode.CONF_TOKEN_NOT_FOUND,
    message: 'failed to receive RPC_HTTP_REQ_CALL: conf token not found',
    runnerCode: 2,
  })
  t.equal(mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL) - before, 3, 'three attempts')
  await noLeaks(t, mock, client)
})

t.test('faults: each a typed error, no leaked socket', async (t) => {
  const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')
  const cases: Array<{ name: string; reply: MockHandlers['httpReqCall']; code: string; message: string | RegExp }> = [
    {
      name: 'RPC_ERROR service unavailable',
      reply: (call) => call.error(P.ErrCode.SERVICE_UNAVAILABLE),
      code: ErrorCode.RUNNER_REPLIED_ERROR,
      message: 'failed to receive RPC_HTTP_REQ_CALL: service unavailable',
    },
    {
      name: 'RPC_ERROR bad request (code field omitted)',
      reply: (call) => call.send(0, hex('08000000 0400 0400 04000000')),
      code: ErrorCode.RUNNER_REPLIED_ERROR,
      message: 'failed to receive RPC_HTTP_REQ_CALL: bad request',
    },
    {
      name: 'RPC_ERROR with an unknown code',
      reply: (call) => call.error(9),
      code: ErrorCode.RUNNER_REPLIED_ERROR,
      message: 'failed to receive RPC_HTTP_REQ_CALL: unknown err 9',
    },
    {
      name: "another call's frame type",
      reply: (call) => call.raw(P.encodeHTTPRespCallResponse({ id: 0, status: 200, headers: [] })),
      code: ErrorCode.UNEXPECTED_TYPE,
      message: 'failed to receive RPC_HTTP_REQ_CALL: unexpected type 4',
    },
    {
      name: 'a type the protocol does not define',
      reply: (call) => call.send(77, hex('08000000 0400 0400 04000000')),
      code: ErrorCode.UNEXPECTED_TYPE,
      message: 'failed to receive RPC_HTTP_REQ_CALL: unexpected type 77',
    },
    {
      name: 'zero-length payload',
      reply: (call) => call.send(2, Buffer.alloc(0)),
      code: ErrorCode.BAD_MESSAGE,
      message: 'failed to receive RPC_HTTP_REQ_CALL: bad message: empty payload, expected HTTPReqCall.Resp',
    },
    {
      name: 'garbage FlatBuffer',
      reply: (call) => call.send(2, hex('ffffff7f 0000 1122 3344')),
      code: ErrorCode.BAD_MESSAGE,
      message: /^failed to receive RPC_HTTP_REQ_CALL: bad message: /,
    },
    {
      name: 'garbage ExtraInfo question',
      reply: (call) => call.send(3, hex('01020304')),
      code: ErrorCode.BAD_MESSAGE,
      message: /^failed to receive RPC_EXTRA_INFO: bad message: /,
    },
    {
      name: 'unsupported ExtraInfo kind',
      reply: (call) => call.raw(P.encodeExtraInfoRequest({ kind: 7 as typeof P.Info.ReqBody })),
      code: ErrorCode.UNSUPPORTED_INFO,
      message: 'failed to handle RPC_EXTRA_INFO: unsupported info type: 7',
    },
    {
      name: 'closes before answering',
      reply: (call) => call.close(),
      code: ErrorCode.SOCKET_CLOSED,
      message: 'failed to receive RPC_HTTP_REQ_CALL: closed',
    },
    {
      name: 'short header, then closes',
      reply: (call) => (call.raw(Buffer.from([2, 0])), call.close()),
      code: ErrorCode.SOCKET_CLOSED,
      message: 'failed to receive RPC_HTTP_REQ_CALL: closed (header too short: got 2 of 4 bytes)',
    },
    {
      name: 'truncated payload, then closes',
      reply: (call) => (call.raw(Buffer.from([2, 0, 0, 20, 1, 2, 3])), call.close()),
      code: ErrorCode.SOCKET_CLOSED,
      message: 'failed to receive RPC_HTTP_REQ_CALL: closed (data truncated: got 3 of 20 payload bytes)',
    },
    {
      name: 'resets the connection',
      reply: (call) => call.destroy(),
      code: ErrorCode.SOCKET_CLOSED,
      message: 'failed to receive RPC_HTTP_REQ_CALL: closed',
    },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const { mock, client } = await setup(t, { httpReqCall: c.reply })
      await t.rejects(client.httpReqCall(conf, request), { code: c.code, message: c.message })
      await noLeaks(t, mock, client)
    })
  }
})

t.test('an oversized header announces more than arrives: the call times out, nothing hangs', async (t) => {
  const { mock, client } = await setup(t, { httpReqCall: (call) => call.raw(Buffer.from([2, 0xff, 0xff, 0xff, 0])) }, { callTimeout: 200 })
  const started = performance.now()
  await t.rejects(client.httpReqCall(conf, request), { code: ErrorCode.TIMEOUT, message: 'failed to receive RPC_HTTP_REQ_CALL: timeout' })
  t.ok(performance.now() - started < 2000, 'ended near its timeout')
  await noLeaks(t, mock, client)
})

t.test('a runner that stalls: TIMEOUT after callTimeout; per-call timeout overrides', async (t) => {
  const { mock, client } = await setup(t, { httpReqCall: () => new Promise(() => {}) }, { callTimeout: 150 })
  await t.rejects(client.httpReqCall(conf, request), { code: ErrorCode.TIMEOUT })
  await t.rejects(client.httpReqCall(conf, request, undefined, { timeout: 50 }), { code: ErrorCode.TIMEOUT })
  await noLeaks(t, mock, client)
})

t.test('a stalled PrepareConf times out too', async (t) => {
  const { mock, client } = await setup(t, { prepareConf: () => new Promise(() => {}) }, { callTimeout: 100 })
  await t.rejects(client.httpReqCall(conf, request), {
    code: ErrorCode.TIMEOUT,
    message: 'failed to receive RPC_PREPARE_CONF: timeout',
  })
  await noLeaks(t, mock, client)
})

t.test('AbortSignal: before and during the call', async (t) => {
  const { mock, client } = await setup(t, { httpReqCall: () => new Promise(() => {}) })
  await t.rejects(client.httpReqCall(conf, request, undefined, { signal: AbortSignal.abort() }), { code: ErrorCode.ABORTED })
  const controller = new AbortController()
  const pending = client.httpReqCall(conf, request, undefined, { signal: controller.signal })
  await sleep(30)
  controller.abort()
  await t.rejects(pending, { code: ErrorCode.ABORTED, message: 'failed to receive RPC_HTTP_REQ_CALL: aborted' })
  await noLeaks(t, mock, client)
})

t.test('a runner that never listens', async (t) => {
  const client = new RunnerClient({ socketPath: '/nonexistent/runner.sock' })
  await t.rejects(client.httpReqCall(conf, request), {
    code: ErrorCode.CONNECT,
    message: 'failed to connect to the unix socket unix:/nonexistent/runner.sock: no such file or directory',
  })
  const mock = await MockRunner.start()
  await mock.close() // leaves no socket file: same as never listening
  const refused = new RunnerClient({ socketPath: mock.path })
  await t.rejects(refused.prepareConf(conf), { code: ErrorCode.CONNECT })
})

t.test('ExtraInfo rounds are answered from the source, in order, as many as maxExtraInfoRounds', async (t) => {
  const { client } = await setup(t, {
    async httpReqCall(call) {
      const answers: Array<string | null> = []
      for (const name of ['remote_addr', 'nope', 'arg_x', 'remote_addr']) {
        const r = await call.ask({ kind: P.Info.Var, name })
        answers.push(r === undefined ? null : r.toString('latin1'))
      }
      const body = await call.ask({ kind: P.Info.ReqBody })
      const resp = await call.ask({ kind: P.Info.RespBody })
      for (let i = 0; i < 200; i++) await call.ask({ kind: P.Info.Var, name: 'remote_addr' })
      call.raw(P.encodeHTTPReqCallResponse({
        id: 0,
        action: { type: 'stop', status: 200, headers: [], body: Buffer.from(JSON.stringify({ answers, body: body?.toString('latin1'), resp: resp === undefined })) },
      }))
    },
  }, { maxExtraInfoRounds: 4 + 2 + 200 })
  const vars: Record<string, string> = { remote_addr: '127.0.0.1', arg_x: '' }
  const result = await client.httpReqCall(conf, request, {
    variable: (name) => vars[name],
    requestBody: async () => Buffer.from('caf\xe9', 'latin1'),
    responseBody: () => undefined,
  })
  t.same(JSON.parse(Buffer.from(result.action!.body!).toString()), {
    answers: ['127.0.0.1', null, '', '127.0.0.1'],
    body: 'caf\xe9',
    resp: true,
  })
})

t.test('a source that throws is logged and answered absent; the call goes on', async (t) => {
  const errors: string[] = []
  const { client } = await setup(
    t,
    {
      async httpReqCall(call) {
        const r = await call.ask({ kind: P.Info.ReqBody })
        call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: { type: 'stop', status: r === undefined ? 204 : 500, headers: [] } }))
      },
    },
    { logger: { debug() {}, info() {}, warn() {}, error: (_f, m) => errors.push(m) } },
  )
  const result = await client.httpReqCall(conf, request, {
    variable: () => undefined,
    requestBody: () => Promise.reject(new Error('disk on fire')),
    responseBody: () => undefined,
  })
  t.equal((result.action as P.StopAction).status, 204)
  t.same(errors, ['failed to read request body: disk on fire'])
})

t.test('an answer over 16 MiB fails the call with PAYLOAD_TOO_LARGE before sending', async (t) => {
  const { mock, client } = await setup(t, {
    async httpReqCall(call) {
      await call.ask({ kind: P.Info.ReqBody }).catch(() => {})
    },
  })
  const big = Buffer.alloc(P.MAX_PAYLOAD_LENGTH)
  await t.rejects(client.httpReqCall(conf, request, { variable: () => undefined, requestBody: () => big, responseBody: () => undefined }), {
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: /^failed to reply RPC_EXTRA_INFO: the max length of data is 16777215 but got 167772\d\d$/,
  })
  await noLeaks(t, mock, client)
})

t.test('a request over 16 MiB is refused before anything is sent', async (t) => {
  const { mock, client } = await setup(t)
  await client.prepareConf(conf)
  const huge = { ...request, headers: [{ name: 'x-big', value: 'x'.repeat(P.MAX_PAYLOAD_LENGTH) }] }
  await t.rejects(client.httpReqCall(conf, huge), {
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: /^failed to send RPC_HTTP_REQ_CALL: the max length of data is 16777215 but got \d+$/,
  })
  t.equal(mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL), 0)
})

t.test('a runner that answers PrepareConf twice (as the Java runner 0.4.0 does): no stray reply reaches a call', async (t) => {
  // The second copy arrives late: just before the reply to the next call on that connection.
  const owed = new Map<number, number>()
  const { mock, client } = await setup(t, {
    prepareConf: (call, m) => void owed.set(call.connection, m.grantToken(call)),
    httpReqCall: (call) => {
      const token = owed.get(call.connection)
      owed.delete(call.connection)
      if (token !== undefined) call.raw(P.encodePrepareConfResponse({ confToken: token }))
      call.raw(P.encodeHTTPReqCallResponse({ id: P.decodeHTTPReqCallRequest(call.payload).id, action: undefined }))
    },
  })
  for (let i = 0; i < 20; i++) {
    t.same(await client.httpReqCall({ ...conf, key: `k${i}` }, request), { id: i + 1, actionType: 0, action: undefined })
  }
  await noLeaks(t, mock, client, 1)
})

t.test('a runner that closes every connection after one call (as APISIX\'s test mock does)', async (t) => {
  const { mock, client } = await setup(t, {
    prepareConf: (call, m) => (m.grantToken(call), call.close()),
    httpReqCall: (call) => (call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined })), call.close()),
  })
  for (let i = 0; i < 20; i++) await client.httpReqCall(conf, request)
  t.equal(mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL), 20, 'no spurious failure from a closed pooled socket')
  await noLeaks(t, mock, client)
})

t.test('200 concurrent calls; the idle pool keeps at most maxIdleConnections', async (t) => {
  const { mock, client } = await setup(
    t,
    {
      async httpReqCall(call) {
        await sleep(5)
        call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))
      },
    },
    { maxIdleConnections: 8 },
  )
  await client.prepareConf(conf)
  const results = await Promise.all(Array.from({ length: 200 }, () => client.httpReqCall(conf, request)))
  t.equal(results.length, 200)
  t.equal(client.stats.idle, 8)
  await noLeaks(t, mock, client, 8)
})

t.test('idle connections are closed after idleTimeout', async (t) => {
  const { mock, client } = await setup(t, {}, { idleTimeout: 50 })
  await client.httpReqCall(conf, request)
  t.equal(client.stats.idle, 1)
  await sleep(150)
  t.equal(client.stats.idle, 0)
  await noLeaks(t, mock, client)
})

t.test('close() waits for calls in flight; destroy() fails them with CLOSED', async (t) => {
  const { mock, client } = await setup(t, {
    async httpReqCall(call) {
      await sleep(50)
      call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))
    },
  })
  const inFlight = client.httpReqCall(conf, request)
  await sleep(10)
  await client.close()
  t.same(await inFlight, { id: 0, actionType: 0, action: undefined }, 'finished before close resolved')
  await t.rejects(client.httpReqCall(conf, request), { code: ErrorCode.CLOSED })
  await noLeaks(t, mock, client)

  const other = new RunnerClient({ socketPath: mock.path })
  await other.prepareConf(conf)
  const doomed = other.httpReqCall(conf, request)
  await sleep(10)
  other.destroy()
  await t.rejects(doomed, { code: ErrorCode.CLOSED })
})

t.test('an unsolicited frame on an idle connection retires it', async (t) => {
  const { mock, client } = await setup(t, {
    httpReqCall(call) {
      call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))
      setTimeout(() => call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined })), 20)
    },
  })
  await client.httpReqCall(conf, request)
  await sleep(60)
  t.equal(client.stats.idle, 0, 'the out-of-step connection is gone')
  await client.httpReqCall(conf, request)
  t.equal(client.stats.opened, 3, 'PrepareConf, the retired one, a new one')
  await noLeaks(t, mock, client, 1)
})
