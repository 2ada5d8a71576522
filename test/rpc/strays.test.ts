// Call ids and stray bytes: a reply must belong to its call. A runner that answers twice
// (or sends anything while nobody asked) must never have those bytes read as the answer
// of the next call on the same pooled connection.
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { ErrorCode, type ExtPluginError } from '../../src/errors.js'
import type { Logger } from '../../src/logger.js'
import * as P from '../../src/protocol/index.js'
import { RunnerClient, followingCallId, type RunnerClientOptions } from '../../src/rpc/client.js'
import { MockRunner, type MockHandlers } from '../helpers/mock-runner.js'

const conf = { key: 'route#1#ext-plugin-pre-req#1', conf: [{ name: 'say', value: '{}' }] }
const request = (path: string): Parameters<RunnerClient['httpReqCall']>[1] => ({
  srcIp: Buffer.from([127, 0, 0, 1]),
  method: P.Method.GET,
  path,
  args: [],
  headers: [],
})

/** A Stop whose body names the request it answers, so a misdelivered answer shows. */
function stopFor(id: number, path: string): Buffer {
  return P.encodeHTTPReqCallResponse({ id, action: { type: 'stop', status: 200, headers: [], body: Buffer.from(path) } })
}

async function setup(t: Test, handlers: MockHandlers, options: Partial<RunnerClientOptions> = {}) {
  const mock = await MockRunner.start(handlers)
  const errors: string[] = []
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (_f, m: string) => void errors.push(m) }
  const client = new RunnerClient({ socketPath: mock.path, logger, ...options })
  t.teardown(async () => {
    client.destroy()
    await mock.close()
  })
  return { mock, client, errors }
}

t.test('call ids start at 1 and wrap to 1, never 0', async (t) => {
  const seen: number[] = []
  const { client } = await setup(t, {
    httpReqCall(call) {
      const { id, path } = P.decodeHTTPReqCallRequest(call.payload)
      seen.push(id)
      call.raw(stopFor(id, path))
    },
  })
  await client.httpReqCall(conf, request('/a'))
  await client.httpReqCall(conf, request('/b'))
  t.same(seen, [1, 2])
  t.equal(followingCallId(1), 2)
  t.equal(followingCallId(P.CALL_ID_WRAP - 2), P.CALL_ID_WRAP - 1)
  t.equal(followingCallId(P.CALL_ID_WRAP - 1), 1, 'wraps past 0')
})

t.test('a reply carrying another call id fails the call, is logged and retires the connection', async (t) => {
  let wrong = true
  const { mock, client, errors } = await setup(t, {
    httpReqCall(call) {
      const { id, path } = P.decodeHTTPReqCallRequest(call.payload)
      call.raw(stopFor(wrong ? id + 7 : id, path))
      wrong = false
    },
  })
  await t.rejects(client.httpReqCall(conf, request('/x')), {
    code: ErrorCode.CALL_ID_MISMATCH,
    message: 'failed to receive RPC_HTTP_REQ_CALL: reply for call id 8, expected 1',
  })
  t.match(errors, [/reply for call id 8, expected 1/])
  const before = mock.connections
  const ok = await client.httpReqCall(conf, request('/y'))
  t.equal(Buffer.from(ok.action!.body!).toString(), '/y')
  t.equal(mock.connections, before + 1, 'the next call did not get the out-of-step connection')
})

t.test('id 0 in a reply is accepted (runners that do not echo ids)', async (t) => {
  const { client } = await setup(t, {
    httpReqCall(call) {
      call.raw(stopFor(0, P.decodeHTTPReqCallRequest(call.payload).path))
    },
  })
  const ok = await client.httpReqCall(conf, request('/z'))
  t.equal(Buffer.from(ok.action!.body!).toString(), '/z')
})

// Bytes on an idle connection: a whole frame, or just part of one (which the old check
// missed: the connection looked clean until its next call read the rest).
for (const [what, stray] of [
  ['a whole frame', stopFor(0, '/stray')],
  ['part of a frame', stopFor(0, '/stray').subarray(0, 2)],
] as const) {
  t.test(`${what} arriving on an idle pooled connection: it is closed, never reused`, async (t) => {
    let strays = 1
    let sent: () => void = () => {}
    const strayed = new Promise<void>((resolve) => (sent = resolve))
    const { mock, client } = await setup(t, {
      httpReqCall(call) {
        const { id, path } = P.decodeHTTPReqCallRequest(call.payload)
        call.raw(stopFor(id, path))
        if (strays-- > 0) setTimeout(() => (call.raw(stray), sent()), 20)
      },
    })
    await client.httpReqCall(conf, request('/1'))
    t.equal(client.stats.idle, 1)
    await strayed
    // the stray reaches the client at some point; wait (bounded) until the pool lets it go
    for (let i = 0; i < 100 && client.stats.idle > 0; i++) await sleep(5)
    t.equal(client.stats.idle, 0, 'the connection left the idle list')
    const next = await client.httpReqCall(conf, request('/2'))
    t.equal(Buffer.from(next.action!.body!).toString(), '/2', 'the next call got its own answer')
    t.equal(mock.connections, 3, 'PrepareConf, the retired connection, a new one')
  })
}

t.test('a runner that sends a duplicate answer a few ms late: no request gets another request\'s answer', async (t) => {
  const { client } = await setup(t, {
    httpReqCall(call) {
      const { id, path } = P.decodeHTTPReqCallRequest(call.payload)
      const answer = stopFor(id, path)
      call.raw(answer)
      setTimeout(() => call.raw(answer), 1 + (id % 5))
    },
  })
  let misdelivered = 0
  let answered = 0
  const failures = new Map<string, number>()
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; i < 30; i++) {
      const path = `/w${w}/r${i}`
      try {
        const reply = await client.httpReqCall(conf, request(path))
        answered++
        if (Buffer.from(reply.action!.body!).toString() !== path) misdelivered++
      } catch (err) {
        const code = (err as ExtPluginError).code
        failures.set(code, (failures.get(code) ?? 0) + 1)
      }
    }
  }
  await Promise.all(Array.from({ length: 10 }, (_, w) => worker(w)))
  t.equal(misdelivered, 0, 'answers delivered to the wrong request')
  t.equal(answered + [...failures.values()].reduce((a, b) => a + b, 0), 300)
  // a duplicate that lands during the next call is caught by its id; nothing else may fail
  t.same([...failures.keys()].filter((code) => code !== ErrorCode.CALL_ID_MISMATCH), [])
  t.ok(answered > 0)
  t.comment(`answered ${answered}, failed ${JSON.stringify(Object.fromEntries(failures))}`)
})
