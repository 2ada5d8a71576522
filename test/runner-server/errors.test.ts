// Every RPC_ERROR the runner sends, and that the connection goes on serving after each:
// BAD_REQUEST for an unknown frame type and for payloads that are not the message they
// claim to be, CONF_TOKEN_NOT_FOUND for unknown tokens, SERVICE_UNAVAILABLE for plugins
// that throw and replies that cannot be encoded.
import t, { type Test } from 'tap'
import { FlatWriter } from '../../src/protocol/flat-writer.js'
import * as P from '../../src/protocol/index.js'
import { definePlugin } from '../../src/runner-server/index.js'
import { errCode, serve, stopOf, type RawClient } from './fixtures/gateway.js'

const ok = definePlugin({ name: 'ok', requestFilter: (_c, _r, response) => void response.setStatus(204) })
const throws = definePlugin({
  name: 'throws',
  requestFilter: () => {
    throw new Error('boom in the request phase')
  },
  responseFilter: () => {
    throw new Error('boom in the response phase')
  },
})
const rejects = definePlugin({ name: 'rejects', requestFilter: async () => Promise.reject(new Error('async boom')) })
const oversize = definePlugin({ name: 'oversize', requestFilter: (_c, _r, response) => void response.write(Buffer.alloc(1 << 24)) })
const asksVar = definePlugin({
  name: 'asks-var',
  requestFilter: async (_c, request, response) => void response.setStatus(200).write((await request.var('x')) ?? 'none'),
})
const plugins = [ok, throws, rejects, oversize, asksVar]

/** The connection still serves a normal call. */
async function stillServes(t: Test, client: RawClient, token: number): Promise<void> {
  t.equal(stopOf(await client.reqCall(token)).status, 204, 'the connection still serves calls')
}

/** A PrepareConf.Req whose one conf entry has a value but no name. */
function namelessConf(): Buffer {
  const w = new FlatWriter()
  const value = w.string('{}')
  w.startTable(2)
  w.addOffset(1, value)
  const entry = w.endTable()
  const conf = w.offsets([entry])
  w.startTable(2)
  w.addOffset(0, conf)
  return w.finish(w.endTable(), P.MessageType.RPC_PREPARE_CONF)
}

t.test('BAD_REQUEST: unknown frame types, and frames only the runner sends', async (t) => {
  const { client, logger } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['ok', '']])
  for (const type of [5, 9, 255, P.MessageType.RPC_ERROR, P.MessageType.RPC_EXTRA_INFO]) {
    const payload = P.encodeErrResponse({ code: 1 }).subarray(4)
    t.equal(errCode(await c.call(P.encodeFrame(type, payload))), P.ErrCode.BAD_REQUEST, `type ${type}`)
  }
  t.ok(logger.has('warn', 'unknown rpc type: 9'))
  await stillServes(t, c, token)
})

t.test('BAD_REQUEST: garbage, empty and truncated payloads for every request type', async (t) => {
  const { client } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['ok', '']])
  const good = P.encodeHTTPReqCallRequest({ id: 1, srcIp: Buffer.from([1, 2, 3, 4]), method: 0, path: '/x', args: [], headers: [], confToken: token })
  const cases: Array<[string, number, Buffer]> = []
  for (const type of [P.MessageType.RPC_PREPARE_CONF, P.MessageType.RPC_HTTP_REQ_CALL, P.MessageType.RPC_HTTP_RESP_CALL]) {
    cases.push([`type ${type}: empty`, type, Buffer.alloc(0)])
    cases.push([`type ${type}: garbage`, type, Buffer.from('\xff\xff\xff\x7f this is not a flatbuffer', 'latin1')])
    cases.push([`type ${type}: three bytes`, type, Buffer.from([1, 2, 3])])
  }
  cases.push(['a real HTTPReqCall cut short', P.MessageType.RPC_HTTP_REQ_CALL, good.subarray(4, good.length - 6)])
  // A TextEntry without a name: the gateway cannot send it, the runner cannot use it.
  cases.push(['a conf entry without a name', P.MessageType.RPC_PREPARE_CONF, namelessConf().subarray(4)])
  for (const [name, type, payload] of cases) {
    t.equal(errCode(await c.call(P.encodeFrame(type, payload))), P.ErrCode.BAD_REQUEST, name)
  }
  await stillServes(t, c, token)
})

t.test('CONF_TOKEN_NOT_FOUND: an unknown token, in both phases', async (t) => {
  const { client, logger } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['ok', '']])
  t.equal(errCode(await c.reqCall(token + 1000)), P.ErrCode.CONF_TOKEN_NOT_FOUND)
  t.equal(errCode(await c.respCall(token + 1000)), P.ErrCode.CONF_TOKEN_NOT_FOUND)
  t.equal(errCode(await c.reqCall(0)), P.ErrCode.CONF_TOKEN_NOT_FOUND, 'token 0 is never issued')
  t.ok(logger.has('warn', `conf token not found: ${token + 1000}`))
  await stillServes(t, c, token)
})

t.test('SERVICE_UNAVAILABLE: a plugin that throws, rejects, or makes a reply too large', async (t) => {
  const { client, logger } = await serve(t, plugins)
  const c = await client()
  const okToken = await c.prepare([['ok', '']])
  for (const name of ['throws', 'rejects', 'oversize']) {
    const token = await c.prepare([[name, '']])
    t.equal(errCode(await c.reqCall(token)), P.ErrCode.SERVICE_UNAVAILABLE, name)
    await stillServes(t, c, okToken)
  }
  const token = await c.prepare([['throws', '']])
  t.equal(errCode(await c.respCall(token)), P.ErrCode.SERVICE_UNAVAILABLE, 'response phase')
  t.ok(logger.has('error', 'plugin throws failed in the request phase: boom in the request phase'))
  t.ok(logger.has('error', 'plugin throws failed in the response phase: boom in the response phase'))
  t.ok(logger.has('error', 'the max length of data is 16777215 but got'))
  await stillServes(t, c, okToken)
})

t.test('a plugin that throws skips the plugins after it, and nothing of it is sent', async (t) => {
  let ran = false
  const after = definePlugin({ name: 'after', requestFilter: () => void (ran = true) })
  const { client } = await serve(t, [...plugins, after])
  const c = await client()
  const token = await c.prepare([['throws', ''], ['after', '']])
  t.equal(errCode(await c.reqCall(token)), P.ErrCode.SERVICE_UNAVAILABLE)
  t.notOk(ran)
})

t.test('BAD_REQUEST: a malformed ExtraInfo answer, or a frame of another type in its place', async (t) => {
  const { client } = await serve(t, plugins)
  const c = await client()
  const token = await c.prepare([['asks-var', ''], ['ok', '']])
  const okToken = await c.prepare([['ok', '']])

  c.send(P.encodeHTTPReqCallRequest({ id: 7, srcIp: Buffer.alloc(4), method: 0, path: '/', args: [], headers: [], confToken: token }))
  t.equal((await c.next())!.type, P.MessageType.RPC_EXTRA_INFO)
  c.send(P.encodeFrame(P.MessageType.RPC_EXTRA_INFO, Buffer.from([0xff, 0xff, 0, 0, 1])))
  t.equal(errCode(await c.next()), P.ErrCode.BAD_REQUEST, 'garbage answer')

  c.send(P.encodeHTTPReqCallRequest({ id: 8, srcIp: Buffer.alloc(4), method: 0, path: '/', args: [], headers: [], confToken: token }))
  t.equal((await c.next())!.type, P.MessageType.RPC_EXTRA_INFO)
  c.send(P.encodePrepareConfResponse({ confToken: 3 }))
  t.equal(errCode(await c.next()), P.ErrCode.BAD_REQUEST, 'a PrepareConf frame where the answer should be')
  await stillServes(t, c, okToken)
})
