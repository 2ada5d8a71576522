// Every message round-trips through our codecs, and is cross-checked against the code
// flatc generates from fbs/ext-plugin.fbs in both directions: what we write, the reference
// reader reads; what the reference builder writes, we read.
import * as flatbuffers from 'flatbuffers'
import t from 'tap'
import * as P from '../../src/protocol/index.js'
import { encodeRespCall } from '../../src/protocol/messages/resp-call-writer.js'
import { TextEntry as GenTextEntry } from '../../src/protocol/gen/a6/text-entry.js'
import { Req as GenPrepareReq } from '../../src/protocol/gen/a6/prepare-conf/req.js'
import { Req as GenReqCallReq } from '../../src/protocol/gen/a6/httpreq-call/req.js'
import { Resp as GenReqCallResp } from '../../src/protocol/gen/a6/httpreq-call/resp.js'
import { Stop as GenStop } from '../../src/protocol/gen/a6/httpreq-call/stop.js'
import { Rewrite as GenRewrite } from '../../src/protocol/gen/a6/httpreq-call/rewrite.js'
import { Req as GenRespCallReq } from '../../src/protocol/gen/a6/httpresp-call/req.js'
import { Resp as GenRespCallResp } from '../../src/protocol/gen/a6/httpresp-call/resp.js'
import { Req as GenInfoReq } from '../../src/protocol/gen/a6/extra-info/req.js'
import { Var as GenVar } from '../../src/protocol/gen/a6/extra-info/var.js'

const bytesOf = (frame: Buffer, type: number): Buffer => {
  t.equal(frame[0], type, 'frame type')
  t.equal(frame.readUIntBE(1, 3), frame.length - 4, 'frame length')
  return frame.subarray(4)
}
const bb = (payload: Buffer) => new flatbuffers.ByteBuffer(new Uint8Array(payload))
const U8 = flatbuffers.Encoding.UTF8_BYTES
const bin = (u: Uint8Array | string | null): string | null =>
  u === null ? null : Buffer.from(u as Uint8Array).toString('latin1')

// Non-UTF-8 bytes (0xff, 0xc3 alone) must survive every string field.
const odd = '\xff\xc3 caf\xe9'
const entries: P.TextEntry[] = [
  { name: 'x-same', value: 'one' },
  { name: 'x-same', value: 'two' },
  { name: 'bare' },
  { name: 'empty', value: '' },
  { name: Buffer.from('x-bytes'), value: Buffer.from([0, 1, 0xfe, 0xff]) },
  { name: 'x-odd', value: odd },
]
const decodedEntries = entries.map((e) => ({
  name: typeof e.name === 'string' ? e.name : Buffer.from(e.name).toString('latin1'),
  value: e.value === undefined ? undefined : typeof e.value === 'string' ? e.value : Buffer.from(e.value).toString('latin1'),
}))

function genEntries(get: (i: number) => GenTextEntry | null, n: number) {
  return Array.from({ length: n }, (_, i) => {
    const e = get(i)!
    const value = e.value(U8)
    return { name: bin(e.name(U8))!, value: value === null ? undefined : bin(value)! }
  })
}

t.test('PrepareConf.Req', async (t) => {
  const req = { key: 'route#1#ext-plugin-pre-req#42', conf: [{ name: 'say', value: '{"body":"h\xe9"}' }] }
  const payload = bytesOf(P.encodePrepareConfRequest(req), P.MessageType.RPC_PREPARE_CONF)
  t.same(P.decodePrepareConfRequest(payload), req)
  const g = GenPrepareReq.getRootAsReq(bb(payload))
  t.equal(bin(g.key(U8)), req.key)
  t.same(genEntries((i) => g.conf(i), g.confLength()), req.conf)

  const noConf = P.decodePrepareConfRequest(bytesOf(P.encodePrepareConfRequest({ key: 'k' }), 1))
  t.equal(noConf.conf, undefined, 'no conf property: vector omitted')
  t.equal(GenPrepareReq.getRootAsReq(bb(bytesOf(P.encodePrepareConfRequest({ key: 'k' }), 1))).confLength(), 0)

  const b = new flatbuffers.Builder()
  const key = b.createString('kk')
  const n = b.createString('a')
  GenTextEntry.startTextEntry(b)
  GenTextEntry.addName(b, n)
  const e = GenTextEntry.endTextEntry(b)
  const vec = GenPrepareReq.createConfVector(b, [e])
  GenPrepareReq.startReq(b)
  GenPrepareReq.addConf(b, vec)
  GenPrepareReq.addKey(b, key)
  b.finish(GenPrepareReq.endReq(b))
  t.same(P.decodePrepareConfRequest(Buffer.from(b.asUint8Array())), { key: 'kk', conf: [{ name: 'a', value: undefined }] })
})

t.test('PrepareConf.Resp, Err.Resp', async (t) => {
  for (const confToken of [0, 1, 233, 0xffffffff]) {
    t.same(P.decodePrepareConfResponse(bytesOf(P.encodePrepareConfResponse({ confToken }), 1)), { confToken })
  }
  for (const code of [0, 1, 2, 200]) {
    t.same(P.decodeErrResponse(bytesOf(P.encodeErrResponse({ code }), 0)), { code })
  }
})

t.test('HTTPReqCall.Req', async (t) => {
  const req = {
    id: 0x3fffff,
    srcIp: Buffer.from([127, 0, 0, 1]),
    method: P.Method.PATCH,
    path: '/caf\xe9 /\xff',
    args: [{ name: 'xx', value: 'y' }, { name: 'xx', value: 'z' }, { name: 'y', value: '' }, { name: 'z' }],
    headers: entries,
    confToken: 7,
  }
  const payload = bytesOf(P.encodeHTTPReqCallRequest(req), P.MessageType.RPC_HTTP_REQ_CALL)
  const ours = P.decodeHTTPReqCallRequest(payload)
  t.same({ ...ours, srcIp: [...ours.srcIp] }, { ...req, srcIp: [127, 0, 0, 1], headers: decodedEntries })

  const g = GenReqCallReq.getRootAsReq(bb(payload))
  t.equal(g.id(), req.id)
  t.same([...g.srcIpArray()!], [127, 0, 0, 1])
  t.equal(g.method(), P.Method.PATCH)
  t.equal(bin(g.path(U8)), req.path)
  t.same(genEntries((i) => g.args(i), g.argsLength()), req.args.map((a) => ({ name: a.name, value: a.value })))
  t.same(genEntries((i) => g.headers(i), g.headersLength()), decodedEntries)
  t.equal(g.confToken(), 7)

  const zero = P.decodeHTTPReqCallRequest(
    bytesOf(P.encodeHTTPReqCallRequest({ ...req, id: 0, method: P.Method.GET, args: [], headers: [] }), 2),
  )
  t.equal(zero.id, 0)
  t.equal(zero.method, P.Method.GET)
  t.same(zero.args, [], 'empty args vector is present and empty')
})

t.test('HTTPReqCall.Resp: none, Stop, Rewrite', async (t) => {
  const none = P.decodeHTTPReqCallResponse(bytesOf(P.encodeHTTPReqCallResponse({ id: 3, action: undefined }), 2))
  t.same(none, { id: 3, actionType: 0, action: undefined })

  const stop = { type: 'stop' as const, status: 403, headers: entries, body: Buffer.from('denied\xff', 'latin1') }
  const s = P.decodeHTTPReqCallResponse(bytesOf(P.encodeHTTPReqCallResponse({ id: 1, action: stop }), 2))
  t.equal(s.actionType, P.Action.Stop)
  t.same(s.action, { ...stop, headers: decodedEntries })
  const gs = GenReqCallResp.getRootAsResp(bb(bytesOf(P.encodeHTTPReqCallResponse({ id: 1, action: stop }), 2)))
  t.equal(gs.actionType(), P.Action.Stop)
  const gStop = gs.action(new GenStop()) as GenStop
  t.equal(gStop.status(), 403)
  t.same(Buffer.from(gStop.bodyArray()!), stop.body)

  const rewrite = {
    type: 'rewrite' as const,
    path: '/p?a=2',
    headers: [{ name: 'x-del' }, { name: 'host', value: 'test.com' }],
    args: [{ name: 'a', value: 'foo' }, { name: 'd' }],
    respHeaders: [{ name: 'X-Resp', value: 'foo' }],
    body: Buffer.from('new body'),
  }
  const rPayload = bytesOf(P.encodeHTTPReqCallResponse({ id: 9, action: rewrite }), 2)
  const r = P.decodeHTTPReqCallResponse(rPayload)
  t.same(r.action, {
    ...rewrite,
    headers: [{ name: 'x-del', value: undefined }, { name: 'host', value: 'test.com' }],
    args: [{ name: 'a', value: 'foo' }, { name: 'd', value: undefined }],
  })
  const gr = GenReqCallResp.getRootAsResp(bb(rPayload)).action(new GenRewrite()) as GenRewrite
  t.equal(gr.path(), '/p?a=2')
  t.equal(gr.headers(0)!.value(), null, 'delete entry has no value field')
  t.equal(gr.respHeaders(0)!.name(), 'X-Resp')
  t.equal(Buffer.from(gr.bodyArray()!).toString(), 'new body')

  // what the reference builder writes, we read
  const b = new flatbuffers.Builder()
  const path = b.createString('/x')
  GenRewrite.startRewrite(b)
  GenRewrite.addPath(b, path)
  const rw = GenRewrite.endRewrite(b)
  GenReqCallResp.startResp(b)
  GenReqCallResp.addActionType(b, P.Action.Rewrite)
  GenReqCallResp.addAction(b, rw)
  b.finish(GenReqCallResp.endResp(b))
  t.same(P.decodeHTTPReqCallResponse(Buffer.from(b.asUint8Array())).action, {
    type: 'rewrite', path: '/x', headers: [], args: [], respHeaders: [], body: undefined,
  })
})

t.test('HTTPRespCall', async (t) => {
  const req = { id: 5, status: 201, headers: [{ name: 'Content-Type', value: 'text/plain' }], confToken: 11 }
  const payload = bytesOf(P.encodeHTTPRespCallRequest(req), P.MessageType.RPC_HTTP_RESP_CALL)
  t.same(P.decodeHTTPRespCallRequest(payload), req)
  const g = GenRespCallReq.getRootAsReq(bb(payload))
  t.equal(g.status(), 201)
  t.equal(g.confToken(), 11)
  t.equal(g.headers(0)!.name(), 'Content-Type')

  // as the response phase sends them: the response's header lines, their case kept
  const lines = ['Content-Type', 'text/plain', 'X-Odd', odd, 'set-cookie', 'a=1', 'Set-Cookie', 'b=2']
  const fromLines = bytesOf(encodeRespCall({ status: 200, headers: { lines } }, 7, 12), P.MessageType.RPC_HTTP_RESP_CALL)
  t.same(P.decodeHTTPRespCallRequest(fromLines), {
    id: 7, status: 200, confToken: 12,
    headers: [{ name: 'Content-Type', value: 'text/plain' }, { name: 'X-Odd', value: odd }, { name: 'set-cookie', value: 'a=1' }, { name: 'Set-Cookie', value: 'b=2' }],
  })
  const gl = GenRespCallReq.getRootAsReq(bb(fromLines))
  t.equal(gl.id(), 7)
  t.equal(gl.headersLength(), 4)
  t.equal(bin(gl.headers(1)!.value(U8)), odd, 'bytes kept')
  t.equal(gl.headers(3)!.name(), 'Set-Cookie', 'case kept')
  // entries without a value, and none at all
  const nameOnly = bytesOf(P.encodeHTTPRespCallRequest({ id: 1, status: 0, headers: [{ name: 'x-empty', value: undefined }], confToken: 0 }), 4)
  t.equal(GenRespCallReq.getRootAsReq(bb(nameOnly)).headers(0)!.value(), null)
  t.same(P.decodeHTTPRespCallRequest(bytesOf(P.encodeHTTPRespCallRequest({ id: 0, status: 0, headers: [], confToken: 0 }), 4)), { id: 0, status: 0, headers: [], confToken: 0 })

  const resp = { id: 5, status: 418, headers: entries, body: Buffer.from([0, 1, 2]) }
  const rp = bytesOf(P.encodeHTTPRespCallResponse(resp), 4)
  t.same(P.decodeHTTPRespCallResponse(rp), { ...resp, headers: decodedEntries })
  const gr = GenRespCallResp.getRootAsResp(bb(rp))
  t.equal(gr.status(), 418)
  t.equal(gr.headersLength(), entries.length)
  t.same(P.decodeHTTPRespCallResponse(bytesOf(P.encodeHTTPRespCallResponse({ id: 0, status: 0, headers: [] }), 4)), {
    id: 0, status: 0, headers: [], body: undefined,
  })
})

t.test('ExtraInfo', async (t) => {
  const v = bytesOf(P.encodeExtraInfoRequest({ kind: P.Info.Var, name: 'arg_x' }), P.MessageType.RPC_EXTRA_INFO)
  t.same(P.decodeExtraInfoRequest(v), { kind: P.Info.Var, name: 'arg_x' })
  const g = GenInfoReq.getRootAsReq(bb(v))
  t.equal(g.infoType(), P.Info.Var)
  t.equal((g.info(new GenVar()) as GenVar).name(), 'arg_x')
  for (const kind of [P.Info.ReqBody, P.Info.RespBody] as const) {
    t.same(P.decodeExtraInfoRequest(bytesOf(P.encodeExtraInfoRequest({ kind }), 3)), { kind, name: undefined })
  }
  t.same(P.decodeExtraInfoResponse(bytesOf(P.encodeExtraInfoResponse({}), 3)), { result: undefined }, 'absent')
  t.same(P.decodeExtraInfoResponse(bytesOf(P.encodeExtraInfoResponse({ result: '' }), 3)).result, Buffer.alloc(0), 'empty')
  t.same(P.decodeExtraInfoResponse(bytesOf(P.encodeExtraInfoResponse({ result: '\xff1' }), 3)).result, Buffer.from([0xff, 0x31]))
})

t.test('vtables are shared between identical tables', async (t) => {
  const many = Array.from({ length: 12 }, (_, i) => ({ name: `h${i}`, value: `v${i}` }))
  const one = P.encodeHTTPRespCallRequest({ id: 1, status: 200, headers: many.slice(0, 1), confToken: 1 })
  const twelve = P.encodeHTTPRespCallRequest({ id: 1, status: 200, headers: many, confToken: 1 })
  // each further entry costs its two strings (4-byte length + 2 or 3 chars + NUL, padded to
  // 8), its 12-byte table and its 4-byte vector slot, and no vtable of its own
  t.equal(twelve.length - one.length, 11 * (8 + 8 + 12 + 4))
})

t.test('an oversized message is refused with a typed error', async (t) => {
  t.throws(
    () => P.encodeHTTPRespCallResponse({ id: 0, status: 200, headers: [], body: Buffer.alloc(P.MAX_PAYLOAD_LENGTH) }),
    { code: 'EXT_ERR_PAYLOAD_TOO_LARGE', message: /^the max length of data is 16777215 but got \d+$/ },
  )
})
