// Codec micro-benchmarks: our encoder/decoders beside the flatc-generated code used the
// obvious way (createString on JavaScript strings), measured in the same run.
import * as flatbuffers from 'flatbuffers'
import * as P from '../src/protocol/index.js'
import { Req as GenReq } from '../src/protocol/gen/a6/httpreq-call/req.js'
import { Resp as GenResp } from '../src/protocol/gen/a6/httpreq-call/resp.js'
import { Stop as GenStop } from '../src/protocol/gen/a6/httpreq-call/stop.js'
import { Rewrite as GenRewrite } from '../src/protocol/gen/a6/httpreq-call/rewrite.js'
import { TextEntry as GenTextEntry } from '../src/protocol/gen/a6/text-entry.js'
import { Req as GenRespReq } from '../src/protocol/gen/a6/httpresp-call/req.js'
import { encodeRespCall } from '../src/protocol/messages/resp-call-writer.js'
import { reqCall, reqCallLines } from './fixtures.js'
import { measure } from './measure.js'

/** The generated builder fed JavaScript strings, then framed: the naive baseline. */
function naiveEncode(req: P.HTTPReqCallRequest): Uint8Array {
  const b = new flatbuffers.Builder(1024)
  const path = b.createString(req.path as string)
  const srcIp = GenReq.createSrcIpVector(b, req.srcIp)
  const entries = (list: readonly P.TextEntry[]) =>
    list.map((e) => {
      const name = b.createString(e.name as string)
      const value = e.value === undefined ? 0 : b.createString(e.value as string)
      GenTextEntry.startTextEntry(b)
      GenTextEntry.addName(b, name)
      if (value) GenTextEntry.addValue(b, value)
      return GenTextEntry.endTextEntry(b)
    })
  const args = GenReq.createArgsVector(b, entries(req.args))
  const headers = GenReq.createHeadersVector(b, entries(req.headers as readonly P.TextEntry[]))
  GenReq.startReq(b)
  GenReq.addId(b, req.id)
  GenReq.addConfToken(b, req.confToken)
  GenReq.addSrcIp(b, srcIp)
  GenReq.addPath(b, path)
  GenReq.addArgs(b, args)
  GenReq.addHeaders(b, headers)
  GenReq.addMethod(b, req.method)
  b.finish(GenReq.endReq(b))
  return P.encodeFrame(P.MessageType.RPC_HTTP_REQ_CALL, b.asUint8Array())
}

// A response as an application sends one, as the response phase holds it.
const responseLines = [
  'Content-Type', 'application/json; charset=utf-8', 'Content-Length', '1024', 'Date', 'Thu, 03 Dec 2026 09:00:00 GMT',
  'Cache-Control', 'no-store', 'X-Request-Id', '5f0c2a9e-8d1b-4c3e-9f6a-0b7d2e4c1a38', 'Set-Cookie', 'session=abc123; Path=/; HttpOnly',
  'Vary', 'Accept-Encoding', 'Connection', 'keep-alive',
]

function naiveRespEncode(lines: readonly string[]): Uint8Array {
  const b = new flatbuffers.Builder(1024)
  const entries: number[] = []
  for (let i = 0; i < lines.length; i += 2) {
    const name = b.createString(lines[i]!)
    const value = b.createString(lines[i + 1]!)
    GenTextEntry.startTextEntry(b)
    GenTextEntry.addName(b, name)
    GenTextEntry.addValue(b, value)
    entries.push(GenTextEntry.endTextEntry(b))
  }
  const headers = GenRespReq.createHeadersVector(b, entries)
  GenRespReq.startReq(b)
  GenRespReq.addId(b, 1)
  GenRespReq.addStatus(b, 200)
  GenRespReq.addHeaders(b, headers)
  GenRespReq.addConfToken(b, 1)
  b.finish(GenRespReq.endReq(b))
  return P.encodeFrame(P.MessageType.RPC_HTTP_RESP_CALL, b.asUint8Array())
}

const stopPayload = P.encodeHTTPReqCallResponse({
  id: 1,
  action: { type: 'stop', status: 403, headers: [{ name: 'x-reason', value: 'denied' }, { name: 'content-type', value: 'text/plain' }], body: Buffer.from('forbidden') },
}).subarray(4)
const rewritePayload = P.encodeHTTPReqCallResponse({
  id: 1,
  action: {
    type: 'rewrite',
    path: '/v2/orders/42/items',
    headers: [{ name: 'x-user', value: 'alice' }, { name: 'authorization' }],
    args: [{ name: 'page', value: '3' }],
    respHeaders: [{ name: 'x-runner', value: 'go' }],
  },
}).subarray(4)

function naiveDecode(payload: Buffer): unknown {
  const resp = GenResp.getRootAsResp(new flatbuffers.ByteBuffer(payload))
  const entries = (n: number, get: (i: number) => GenTextEntry | null) =>
    Array.from({ length: n }, (_, i) => ({ name: get(i)!.name(), value: get(i)!.value() }))
  if (resp.actionType() === P.Action.Stop) {
    const s = resp.action(new GenStop()) as GenStop
    return { status: s.status(), headers: entries(s.headersLength(), (i) => s.headers(i)), body: s.bodyArray() }
  }
  const r = resp.action(new GenRewrite()) as GenRewrite
  return {
    path: r.path(),
    headers: entries(r.headersLength(), (i) => r.headers(i)),
    args: entries(r.argsLength(), (i) => r.args(i)),
    respHeaders: entries(r.respHeadersLength(), (i) => r.respHeaders(i)),
  }
}

/** 1 000 frames cut into random chunks (fixed seed), as a socket might deliver them. */
function chunkedStream(): Buffer[] {
  const frames = Buffer.concat(Array.from({ length: 1000 }, () => P.encodeHTTPReqCallResponse({ id: 1, action: undefined })))
  const chunks: Buffer[] = []
  let seed = 1
  for (let at = 0; at < frames.length; ) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    const n = 1 + (seed % 64)
    chunks.push(frames.subarray(at, at + n))
    at += n
  }
  return chunks
}

export interface CodecResult {
  readonly name: string
  readonly ours_ns: number
  readonly baseline_ns: number
}

export async function runCodec(quick: boolean): Promise<CodecResult[]> {
  const budget = quick ? 300 : 1500
  const stream = chunkedStream()
  let sink = 0
  const pairs: Array<[string, () => void, () => void]> = [
    [
      'encode HTTPReqCall (12 headers as Node gives them, 3 args)',
      () => void (sink += P.encodeHTTPReqCallRequest(reqCallLines).length),
      () => void (sink += naiveEncode(reqCall).length),
    ],
    [
      'encode HTTPReqCall (12 headers as entries, 3 args)',
      () => void (sink += P.encodeHTTPReqCallRequest(reqCall).length),
      () => void (sink += naiveEncode(reqCall).length),
    ],
    [
      'encode HTTPRespCall (8 response header lines)',
      () => void (sink += encodeRespCall({ status: 200, headers: { lines: responseLines } }, 1, 1).length),
      () => void (sink += naiveRespEncode(responseLines).length),
    ],
    [
      'decode Stop',
      () => void (sink += P.decodeHTTPReqCallResponse(stopPayload).id),
      () => void (sink += (naiveDecode(stopPayload) as { status: number }).status),
    ],
    [
      'decode Rewrite',
      () => void (sink += P.decodeHTTPReqCallResponse(rewritePayload).id),
      () => void (sink += (naiveDecode(rewritePayload) as { path: string }).path.length),
    ],
    [
      'read 1000 frames in random chunks',
      () => {
        let frames = 0
        const reader = new P.FrameReader(() => frames++)
        for (const chunk of stream) reader.push(chunk)
        sink += frames
      },
      () => {
        // the obvious reader: append every chunk to one buffer, cut frames off its front
        let buffered = Buffer.alloc(0)
        let frames = 0
        for (const chunk of stream) {
          buffered = Buffer.concat([buffered, chunk])
          while (buffered.length >= 4) {
            const length = buffered.readUIntBE(1, 3)
            if (buffered.length < 4 + length) break
            frames++
            buffered = buffered.subarray(4 + length)
          }
        }
        sink += frames
      },
    ],
  ]
  const results = pairs.map(([name, ours, baseline]) => ({
    name,
    ours_ns: measure(ours, budget).ns,
    baseline_ns: measure(baseline, budget).ns,
  }))
  if (sink === 0.5) console.log('unreachable') // keeps the work observable to the optimiser
  return results
}
