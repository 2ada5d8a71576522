// A6.ExtraInfo (protocol.md §2.5, §4.3): questions the runner asks in the middle of a call
// (a variable, the request body, the response body) and the gateway's answers.
import type { WireText } from '../bytes.js'
import { FRAME_HEADER_LENGTH, Info, MAX_PAYLOAD_LENGTH, MessageType } from '../constants.js'
import { BadMessage, FlatReader } from '../flat-reader.js'
import { FlatWriter, payloadTooLarge } from '../flat-writer.js'

export type ExtraInfoRequest =
  | { readonly kind: typeof Info.Var; readonly name: WireText }
  | { readonly kind: typeof Info.ReqBody }
  | { readonly kind: typeof Info.RespBody }

/** A decoded question. `kind` may be any number: the gateway rejects what it does not know. */
export interface DecodedExtraInfoRequest {
  readonly kind: number
  /** The variable name, for `Info.Var`. */
  readonly name: string | undefined
}

export interface ExtraInfoResponse {
  /** Absent when the value does not exist; an empty vector is an empty value. */
  readonly result?: WireText | undefined
}

export function encodeExtraInfoRequest(request: ExtraInfoRequest): Buffer {
  const w = new FlatWriter(64)
  let info: number
  if (request.kind === Info.Var) {
    const name = w.string(request.name)
    w.startTable(1)
    w.addOffset(0, name)
    info = w.endTable()
  } else {
    w.startTable(0)
    info = w.endTable()
  }
  w.startTable(2)
  w.addOffset(1, info)
  w.addU8(0, request.kind)
  return w.finish(w.endTable(), MessageType.RPC_EXTRA_INFO)
}

export function decodeExtraInfoRequest(payload: Buffer): DecodedExtraInfoRequest {
  const r = new FlatReader(payload)
  const root = r.root('ExtraInfo.Req')
  const kind = r.u8(root, 0)
  if (kind !== Info.Var) return { kind, name: undefined }
  const info = r.child(root, 1, 'ExtraInfo.Var')
  const name = info === 0 ? undefined : r.string(info, 0)
  if (name === undefined) throw new BadMessage('ExtraInfo.Var has no name')
  return { kind, name }
}

export function encodeExtraInfoResponse(response: ExtraInfoResponse): Buffer {
  const result = response.result
  const w = new FlatWriter(32 + (result?.length ?? 0))
  const offset = result === undefined ? 0 : w.bytes(result)
  w.startTable(1)
  w.addOffset(0, offset)
  return w.finish(w.endTable(), MessageType.RPC_EXTRA_INFO)
}

/** Answers at least this long are sent as parts (see encodeExtraInfoResponseParts). */
export const EXTRA_INFO_PARTS_THRESHOLD = 64 * 1024

const PADDING = Buffer.alloc(3)

/**
 * The same frame as encodeExtraInfoResponse({ result }), as the bytes before the result,
 * the result itself (not copied) and its padding: written together (writev), a held body
 * costs no second copy on its way to the runner. The table is laid out front to back,
 * every offset pointing forward, the vector last:
 *
 *   frame header | root uoffset → table | vtable (6, 8, 4) + 2 pad | table: soffset → vtable,
 *   uoffset → vector | vector length | the result | 0–3 bytes of padding
 */
export function encodeExtraInfoResponseParts(result: Uint8Array): Buffer[] {
  const padding = (4 - (result.length & 3)) & 3
  const payload = 24 + result.length + padding
  if (payload > MAX_PAYLOAD_LENGTH) throw payloadTooLarge(payload)
  const head = Buffer.alloc(FRAME_HEADER_LENGTH + 24)
  head[0] = MessageType.RPC_EXTRA_INFO
  head.writeUIntBE(payload, 1, 3)
  const at = FRAME_HEADER_LENGTH
  head.writeUInt32LE(12, at) // root: the table at 12
  head.writeUInt16LE(6, at + 4) // vtable: its own size,
  head.writeUInt16LE(8, at + 6) // the table's size,
  head.writeUInt16LE(4, at + 8) // field 0 (result) at table + 4
  head.writeInt32LE(12 - 4, at + 12) // table → vtable (table position − vtable position)
  head.writeUInt32LE(20 - 16, at + 16) // result → the vector at 20
  head.writeUInt32LE(result.length, at + 20)
  const body = Buffer.isBuffer(result) ? result : Buffer.from(result.buffer, result.byteOffset, result.byteLength)
  return padding === 0 ? [head, body] : [head, body, PADDING.subarray(0, padding)]
}

export function decodeExtraInfoResponse(payload: Buffer): { readonly result: Buffer | undefined } {
  const r = new FlatReader(payload)
  return { result: r.bytes(r.root('ExtraInfo.Resp'), 0) }
}
