// Connections: many calls on one, many at once, gateways that pipeline, half-close or go
// away mid-call, and the runner's close() and destroy().
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import * as P from '../../src/protocol/index.js'
import { definePlugin } from '../../src/runner-server/index.js'
import { RawClient, reqAction, reqCallRequest, serve, stopOf, text, until } from './fixtures/gateway.js'

/** Per sleep time, so that tests using different times never see each other's calls. */
const aborted = new Map<number, number>()
const finished = new Map<number, number>()
const bump = (counts: Map<number, number>, ms: number) => counts.set(ms, (counts.get(ms) ?? 0) + 1)
const echoVar = definePlugin({
  name: 'echo-var',
  requestFilter: async (_c, request, response) => void response.setStatus(200).write((await request.var('n')) ?? '-'),
})
const slow = definePlugin({
  name: 'slow',
  parseConf: (value) => Number(value),
  requestFilter: async (ms, request, response) => {
    request.signal.addEventListener('abort', () => bump(aborted, ms))
    await sleep(ms)
    bump(finished, ms)
    response.setStatus(200).write(`slept ${ms}`)
  },
})
const hang = definePlugin({ name: 'hang', requestFilter: () => new Promise<void>(() => {}) })
const plugins = [echoVar, slow, hang]

t.test('many calls on one connection, many connections at once', async (t) => {
  const { client, runner } = await serve(t, plugins)
  const clients = await Promise.all(Array.from({ length: 20 }, () => client()))
  const token = await clients[0]!.prepare([['echo-var', '']])
  await Promise.all(
    clients.map(async (c, i) => {
      for (let n = 0; n < 50; n++) {
        const frame = await c.reqCall(token, { id: n }, () => ({ result: `${i}.${n}` }))
        if (text(stopOf(frame).body) !== `${i}.${n}`) throw new Error(`connection ${i} call ${n}: wrong answer`)
      }
    }),
  )
  t.equal(runner.stats.connections, 20)
  t.equal(runner.stats.served, 20 * 50 + 1)
  for (const c of clients) c.end()
  t.ok(await until(() => runner.stats.connections === 0), 'connections released when the gateway ends them')
})

t.test('a gateway that pipelines requests gets the replies in order', async (t) => {
  const { client } = await serve(t, plugins)
  const c = await client()
  const fast = await c.prepare([['slow', '0']])
  const slower = await c.prepare([['slow', '30']])
  for (let i = 0; i < 40; i++) c.send(P.encodeHTTPReqCallRequest(reqCallRequest(i % 2 ? slower : fast, { id: i })))
  const ids: number[] = []
  for (let i = 0; i < 40; i++) ids.push(reqAction((await c.next())!).id)
  t.same(ids, Array.from({ length: 40 }, (_, i) => i))
})

t.test('a gateway that half-closes is gone: the call in progress is abandoned', async (t) => {
  const { client, runner } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['slow', '20']])
  c.send(P.encodeHTTPReqCallRequest(reqCallRequest(token)))
  c.end()
  t.equal(await c.next(), null, 'no reply, the runner ends its side')
  t.ok(await until(() => runner.stats.connections === 0))
})

t.test('a gateway that disconnects mid-call: the call is abandoned, the runner keeps serving', async (t) => {
  const { client, runner, logger } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['slow', '81']])
  c.send(P.encodeHTTPReqCallRequest(reqCallRequest(token)))
  await sleep(20)
  c.destroy()
  t.ok(await until(() => runner.stats.connections === 0), 'released at once, before the plugin finishes')
  t.equal(aborted.get(81), 1, "the call's signal fired")
  t.equal(finished.get(81), undefined, 'the plugin is still running')
  await sleep(100)
  t.equal(finished.get(81), 1, 'and finishes without harm')
  t.ok(logger.has('warn', 'the gateway closed the connection before the reply'))

  const again = await client()
  t.equal(text(stopOf(await again.reqCall(await again.prepare([['slow', '0']]))).body), 'slept 0')
})

t.test('a gateway that disconnects while the runner waits for an ExtraInfo answer', async (t) => {
  const { client, runner } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['echo-var', '']])
  c.send(P.encodeHTTPReqCallRequest(reqCallRequest(token)))
  t.equal((await c.next())!.type, P.MessageType.RPC_EXTRA_INFO)
  c.destroy()
  t.ok(await until(() => runner.stats.connections === 0))
  const again = await client()
  t.equal(text(stopOf(await again.reqCall(token, {}, () => ({ result: 'ok' }))).body), 'ok')
})

t.test('a gateway that disconnects mid-frame', async (t) => {
  const { client, runner, logger } = await serve(t, plugins)
  const c = await client()
  const frame = P.encodeHTTPReqCallRequest(reqCallRequest(1))
  c.send(frame.subarray(0, 10))
  await sleep(10)
  c.destroy()
  t.ok(await until(() => runner.stats.connections === 0))
  t.ok(await until(() => logger.has('warn', 'mid-frame (data truncated')))
})

t.test('a plugin that never settles does not hold the connection once the gateway leaves', async (t) => {
  const { client, runner } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['hang', '']])
  c.send(P.encodeHTTPReqCallRequest(reqCallRequest(token)))
  await sleep(10)
  c.destroy()
  t.ok(await until(() => runner.stats.connections === 0))
})

t.test('close(): idle connections end now, in-flight calls finish and reply first', async (t) => {
  const { client, runner, path } = await serve(t, plugins)
  const idle = await client()
  const busy = await client()
  const token = await busy.prepare([['slow', '60']])
  busy.send(P.encodeHTTPReqCallRequest(reqCallRequest(token, { id: 77 })))
  await sleep(10)
  const closing = runner.close()
  t.equal(await idle.next(), null, 'the idle connection is ended')
  const reply = (await busy.next())!
  t.equal(reqAction(reply).id, 77, 'the in-flight call got its reply')
  t.equal(await busy.next(), null, 'then its connection ended')
  await closing
  t.equal(runner.stats.connections, 0)
  await t.rejects(RawClient.connect(path), { code: 'ENOENT' }, 'the socket file is gone')
})

t.test('destroy(): connections dropped at once, socket file removed', async (t) => {
  const { client, runner, path } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['slow', '50']])
  c.send(P.encodeHTTPReqCallRequest(reqCallRequest(token)))
  await sleep(10)
  runner.destroy()
  t.equal(await c.next(), null, 'no reply')
  await t.rejects(RawClient.connect(path), { code: 'ENOENT' })
  t.ok(await until(() => runner.stats.connections === 0))
})

t.test('once close() started, new connections are refused; the call in progress still replies', async (t) => {
  const { client, runner, path } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['slow', '40']])
  c.send(P.encodeHTTPReqCallRequest(reqCallRequest(token, { id: 5 })))
  await sleep(5)
  const closing = runner.close()
  await t.rejects(RawClient.connect(path), 'a new connection is refused')
  t.equal(reqAction((await c.next())!).id, 5)
  await closing
})
