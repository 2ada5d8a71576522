// Bounds on what a runner can make the client spend: ExtraInfo rounds, connections, and
// the largest body one frame can carry.
import t from 'tap'
import { createExtPlugin } from '../../src/ext-plugin.js'
import { ErrorCode } from '../../src/errors.js'
import * as P from '../../src/protocol/index.js'
import { RunnerClient } from '../../src/rpc/client.js'
import { MAX_BODY_SIZE } from '../../src/rpc/extra-info.js'
import { MockRunner } from '../helpers/mock-runner.js'

const conf = { key: 'route#1#ext-plugin-pre-req#1' }
const request = { srcIp: Buffer.from([127, 0, 0, 1]), method: P.Method.GET, path: '/', args: [], headers: [] }
const source = { variable: () => 'v', requestBody: () => undefined, responseBody: () => undefined }

t.test('MAX_BODY_SIZE is exactly what one ExtraInfo answer can carry', async (t) => {
  t.doesNotThrow(() => P.encodeExtraInfoResponse({ result: Buffer.alloc(MAX_BODY_SIZE) }))
  t.throws(() => P.encodeExtraInfoResponse({ result: Buffer.alloc(MAX_BODY_SIZE + 1) }), { code: ErrorCode.PAYLOAD_TOO_LARGE })
})

t.test('createExtPlugin rejects a maxBodySize larger than one frame can carry', async (t) => {
  t.throws(() => createExtPlugin({ maxBodySize: MAX_BODY_SIZE + 1 }), {
    code: ErrorCode.INVALID_OPTIONS,
    message: /maxBodySize 16777189 is larger than one frame can carry \(16777188 bytes/,
  })
  t.equal(createExtPlugin({}).maxBodySize, MAX_BODY_SIZE, 'the default fits')
  t.equal(createExtPlugin({ maxBodySize: MAX_BODY_SIZE }).maxBodySize, MAX_BODY_SIZE)
  for (const name of ['maxConnections', 'maxQueuedBytes', 'maxExtraInfoRounds']) {
    t.throws(() => createExtPlugin({ [name]: 0 }), { code: ErrorCode.INVALID_OPTIONS }, `${name} 0`)
  }
})

for (const max of [undefined, 5]) {
  t.test(`a runner that asks forever: the call fails after maxExtraInfoRounds (${max ?? 'default 128'})`, async (t) => {
    let answered = 0
    const mock = await MockRunner.start({
      async httpReqCall(call) {
        for (;;) {
          await call.ask({ kind: P.Info.Var, name: 'x' })
          answered++
        }
      },
    })
    const client = new RunnerClient({ socketPath: mock.path, maxExtraInfoRounds: max })
    t.teardown(async () => (client.destroy(), await mock.close()))
    await t.rejects(client.httpReqCall(conf, request, source), { code: ErrorCode.EXTRA_INFO_ROUNDS })
    t.equal(answered, max ?? 128)
  })
}

t.test('maxConnections: calls past the cap wait in order; a waiter that times out leaves the queue', async (t) => {
  const held: Array<() => void> = []
  let peak = 0
  const mock = await MockRunner.start({
    httpReqCall(call, m) {
      peak = Math.max(peak, m.openConnections)
      const { id } = P.decodeHTTPReqCallRequest(call.payload)
      held.push(() => call.raw(P.encodeHTTPReqCallResponse({ id, action: undefined })))
    },
  })
  const client = new RunnerClient({ socketPath: mock.path, maxConnections: 3 })
  t.teardown(async () => (client.destroy(), await mock.close()))
  await client.prepareConf(conf)
  const calls = Array.from({ length: 10 }, () => client.httpReqCall(conf, request))
  while (held.length < 3) await new Promise((r) => setTimeout(r, 5))
  t.equal(client.stats.waiting, 7)
  const late = client.httpReqCall(conf, request, undefined, { timeout: 50 })
  await t.rejects(late, { code: ErrorCode.TIMEOUT, message: /waiting for a runner connection \(maxConnections 3\)/ })
  t.equal(client.stats.waiting, 7, 'the timed-out call left the queue')
  let done = 0
  for (const c of calls) void c.then(() => done++)
  while (done < 10) {
    while (held.length > 0) held.shift()!()
    await new Promise((r) => setTimeout(r, 5))
  }
  t.ok(peak <= 3, `at most 3 runner connections (peak ${peak})`)
  t.equal(client.stats.waiting, 0)
})

t.test('maxQueuedBytes: body answers to a runner that stopped reading fail the call instead of piling up', async (t) => {
  const body = Buffer.alloc(1 << 20, 1)
  const mock = await MockRunner.start({
    httpReqCall(call) {
      call.raw(P.encodeExtraInfoRequest({ kind: P.Info.ReqBody }))
      call.pause()
    },
  })
  const client = new RunnerClient({ socketPath: mock.path, maxQueuedBytes: 4 << 20, callTimeout: 5000 })
  t.teardown(async () => (client.destroy(), await mock.close()))
  await client.prepareConf(conf)
  const bodySource = { variable: () => undefined, requestBody: () => body, responseBody: () => undefined }
  let peakQueued = 0
  const sampler = setInterval(() => (peakQueued = Math.max(peakQueued, client.stats.queuedBytes)), 1)
  const results = await Promise.allSettled(Array.from({ length: 40 }, () => client.httpReqCall(conf, request, bodySource)))
  clearInterval(sampler)
  const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'))
  const full = codes.filter((c) => c === ErrorCode.WRITE_QUEUE_FULL).length
  t.ok(full > 0, `calls past the bound fail with ${ErrorCode.WRITE_QUEUE_FULL} (${full} of 40)`)
  t.notOk(codes.includes('ok'), 'no call succeeds against a runner that does not read')
  t.ok(peakQueued <= 4 << 20, `bytes queued for the runner stay within maxQueuedBytes (peak ${peakQueued})`)
  t.equal(client.stats.queuedBytes, 0, 'failed calls give their queued bytes back')
})

t.test('maxConnections: waiting calls get a connection first come, first served', async (t) => {
  const held: Array<() => void> = []
  const order: string[] = []
  const mock = await MockRunner.start({
    httpReqCall(call) {
      const decoded = P.decodeHTTPReqCallRequest(call.payload)
      order.push(decoded.path)
      held.push(() => call.raw(P.encodeHTTPReqCallResponse({ id: decoded.id, action: undefined })))
    },
  })
  const client = new RunnerClient({ socketPath: mock.path, maxConnections: 1 })
  t.teardown(async () => (client.destroy(), await mock.close()))
  await client.prepareConf(conf)
  const paths = Array.from({ length: 8 }, (_, i) => `/call-${i}`)
  const calls = paths.map((path) => client.httpReqCall(conf, { ...request, path }))
  let done = 0
  for (const c of calls) void c.then(() => done++)
  while (done < paths.length) {
    while (held.length > 0) held.shift()!()
    await new Promise((r) => setTimeout(r, 2))
  }
  t.same(order, paths, 'the runner saw the calls in the order they were made')
})
