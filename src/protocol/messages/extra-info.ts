// A6.ExtraInfo (protocol.md §2.5, §4.3): questions the runner asks in the middle of a call
// (a variable, the request body, the response body) and the gateway's answers.
import type { WireText } from '../bytes.js'
import { Info, MessageType } from '../constants.js'
import { BadMessage, FlatReader } from '../flat-reader.js'
import { FlatWriter } from '../flat-writer.js'

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

export function decodeExtraInfoResponse(payload: Buffer): { readonly result: Buffer | undefined } {
  const r = new FlatReader(payload)
  return { result: r.bytes(r.root('ExtraInfo.Resp'), 0) }
}
