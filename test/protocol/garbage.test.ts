// A runner can send anything. Every decoder either returns a value or throws BadMessage:
// never a RangeError, never a read past the payload, never a hang.
import t from 'tap'
import * as flatbuffers from 'flatbuffers'
import * as P from '../../src/protocol/index.js'
import { TextEntry as GenTextEntry } from '../../src/protocol/gen/a6/text-entry.js'
import { Resp as GenResp } from '../../src/protocol/gen/a6/httpreq-call/resp.js'
import { Stop as GenStop } from '../../src/protocol/gen/a6/httpreq-call/stop.js'
import { Req as GenInfoReq } from '../../src/protocol/gen/a6/extra-info/req.js'
import { Var as GenVar } from '../../src/protocol/gen/a6/extra-info/var.js'

const decoders: Record<string, (payload: Buffer) => unknown> = {
  PrepareConfRequest: P.decodePrepareConfRequest,
  PrepareConfResponse: P.decodePrepareConfResponse,
  HTTPReqCallRequest: P.decodeHTTPReqCallRequest,
  HTTPReqCallResponse: P.decodeHTTPReqCallResponse,
  HTTPRespCallRequest: P.decodeHTTPRespCallRequest,
  HTTPRespCallResponse: P.decodeHTTPRespCallResponse,
  ExtraInfoRequest: P.decodeExtraInfoRequest,
  ExtraInfoResponse: P.decodeExtraInfoResponse,
  ErrResponse: P.decodeErrResponse,
}

const valid = [
  P.encodePrepareConfRequest({ key: 'route#1#ext-plugin-pre-req#1', conf: [{ name: 'a', value: 'b' }] }),
  P.encodeHTTPReqCallRequest({
    id: 1, srcIp: Buffer.from([1, 2, 3, 4]), method: 2, path: '/p', confToken: 3,
    args: [{ name: 'a', value: 'b' }], headers: [{ name: 'h', value: 'v' }, { name: 'g' }],
  }),
  P.encodeHTTPReqCallResponse({
    id: 1, action: { type: 'rewrite', path: '/x', headers: [{ name: 'a' }], args: [], respHeaders: [{ name: 'r', value: 'v' }], body: Buffer.from('b') },
  }),
  P.encodeHTTPReqCallResponse({ id: 1, action: { type: 'stop', status: 403, headers: [{ name: 'a', value: 'b' }], body: Buffer.from('no') } }),
  P.encodeHTTPRespCallResponse({ id: 1, status: 200, headers: [{ name: 'a', value: 'b' }], body: Buffer.from('x') }),
  P.encodeExtraInfoRequest({ kind: P.Info.Var, name: 'remote_addr' }),
].map((frame) => frame.subarray(4))

function check(t: { fail: (m: string) => void }, payload: Buffer, what: string): number {
  let failures = 0
  for (const [name, decode] of Object.entries(decoders)) {
    try {
      decode(payload)
    } catch (err) {
      if (!(err instanceof P.BadMessage)) {
        failures++
        t.fail(`${name} threw ${(err as Error).name}: ${(err as Error).message} on ${what} ${payload.toString('hex')}`)
      }
    }
  }
  return failures
}

t.test('empty payload is a BadMessage for every decoder', async (t) => {
  for (const [name, decode] of Object.entries(decoders)) {
    t.throws(() => decode(Buffer.alloc(0)), P.BadMessage, name)
  }
})

t.test('random payloads', async (t) => {
  let seed = 7
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed)
  let failures = 0
  for (let i = 0; i < 3000 && failures === 0; i++) {
    const payload = Buffer.alloc(rand() % 64)
    for (let j = 0; j < payload.length; j++) payload[j] = rand() & 0xff
    failures += check(t, payload, 'random')
  }
  t.equal(failures, 0)
})

t.test('every single-byte corruption of valid messages', async (t) => {
  let failures = 0
  for (const message of valid) {
    for (let at = 0; at < message.length && failures === 0; at++) {
      for (const value of [0x00, 0x7f, 0x80, 0xff]) {
        const payload = Buffer.from(message)
        payload[at] = value
        failures += check(t, payload, `byte ${at}=${value}`)
      }
    }
  }
  t.equal(failures, 0)
})

t.test('truncated valid messages', async (t) => {
  let failures = 0
  for (const message of valid) {
    for (let n = 0; n < message.length; n++) failures += check(t, message.subarray(0, n), `first ${n} bytes`)
  }
  t.equal(failures, 0)
})

t.test('a nameless TextEntry and a nameless Var are bad messages', async (t) => {
  const b = new flatbuffers.Builder()
  const value = b.createString('v')
  GenTextEntry.startTextEntry(b)
  GenTextEntry.addValue(b, value)
  const entry = GenTextEntry.endTextEntry(b)
  const headers = GenStop.createHeadersVector(b, [entry])
  GenStop.startStop(b)
  GenStop.addHeaders(b, headers)
  const stop = GenStop.endStop(b)
  GenResp.startResp(b)
  GenResp.addActionType(b, P.Action.Stop)
  GenResp.addAction(b, stop)
  b.finish(GenResp.endResp(b))
  t.throws(() => P.decodeHTTPReqCallResponse(Buffer.from(b.asUint8Array())), {
    name: 'BadMessage',
    message: 'TextEntry 0 has no name',
  })

  const v = new flatbuffers.Builder()
  GenVar.startVar(v)
  const info = GenVar.endVar(v)
  GenInfoReq.startReq(v)
  GenInfoReq.addInfoType(v, P.Info.Var)
  GenInfoReq.addInfo(v, info)
  v.finish(GenInfoReq.endReq(v))
  t.throws(() => P.decodeExtraInfoRequest(Buffer.from(v.asUint8Array())), { message: 'ExtraInfo.Var has no name' })
})

t.test('an action tag without its table is a bad message; an unknown tag is no action', async (t) => {
  const b = new flatbuffers.Builder()
  GenResp.startResp(b)
  GenResp.addActionType(b, P.Action.Rewrite)
  b.finish(GenResp.endResp(b))
  t.throws(() => P.decodeHTTPReqCallResponse(Buffer.from(b.asUint8Array())), { name: 'BadMessage' })

  const u = new flatbuffers.Builder()
  GenResp.startResp(u)
  GenResp.addActionType(u, 9 as P.Action)
  u.finish(GenResp.endResp(u))
  t.same(P.decodeHTTPReqCallResponse(Buffer.from(u.asUint8Array())), { id: 0, actionType: 9, action: undefined })
})
