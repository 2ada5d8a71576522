// A6.HTTPRespCall (protocol.md §2.6, §4.4): the upstream's response status and headers,
// and the runner's replacement status, header list and body.
import type { DecodedTextEntry, TextEntry } from '../bytes.js'
import { MessageType } from '../constants.js'
import { FlatReader } from '../flat-reader.js'
import { FlatWriter, entriesSize } from '../flat-writer.js'
import { encodeRespCall } from './resp-call-writer.js'

export interface HTTPRespCallRequest<E extends TextEntry = TextEntry> {
  readonly id: number
  readonly status: number
  /** Upstream response headers with the upstream's case, one entry per value. */
  readonly headers: readonly E[]
  readonly confToken: number
}

export interface HTTPRespCallResponse<E extends TextEntry = TextEntry> {
  /** Ignored by the gateway. */
  readonly id: number
  /** 0 keeps the upstream status. */
  readonly status: number
  /** Non-empty: the complete list of client response headers. */
  readonly headers: readonly E[]
  /** Non-empty: the replacement body. */
  readonly body?: Uint8Array | undefined
}

/** The whole frame, in one pass (see resp-call-writer.ts). */
export function encodeHTTPRespCallRequest(request: HTTPRespCallRequest): Buffer {
  return encodeRespCall(request, request.id, request.confToken)
}

export function decodeHTTPRespCallRequest(payload: Buffer): HTTPRespCallRequest<DecodedTextEntry> {
  const r = new FlatReader(payload)
  const root = r.root('HTTPRespCall.Req')
  return { id: r.u32(root, 0), status: r.u16(root, 1), headers: r.textEntries(root, 2), confToken: r.u32(root, 3) }
}

export function encodeHTTPRespCallResponse(response: HTTPRespCallResponse): Buffer {
  const body = response.body
  const w = new FlatWriter(64 + entriesSize(response.headers) + (body?.length ?? 0))
  const headers = response.headers.length > 0 ? w.textEntries(response.headers) : 0
  const bodyOffset = body && body.length > 0 ? w.bytes(body) : 0
  w.startTable(4)
  w.addU32(0, response.id)
  w.addOffset(2, headers)
  w.addOffset(3, bodyOffset)
  w.addU16(1, response.status)
  return w.finish(w.endTable(), MessageType.RPC_HTTP_RESP_CALL)
}

export function decodeHTTPRespCallResponse(payload: Buffer): HTTPRespCallResponse<DecodedTextEntry> {
  const r = new FlatReader(payload)
  const root = r.root('HTTPRespCall.Resp')
  return { id: r.u32(root, 0), status: r.u16(root, 1), headers: r.textEntries(root, 2), body: r.bytes(root, 3) }
}
