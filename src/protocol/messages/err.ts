// A6.Err (protocol.md §2.2): the runner's answer when it cannot serve a request.
import { MessageType } from '../constants.js'
import { FlatReader } from '../flat-reader.js'
import { FlatWriter } from '../flat-writer.js'

export interface ErrResponse {
  /** An A6.Err.Code; absent on the wire means 0, BAD_REQUEST. */
  readonly code: number
}

export function encodeErrResponse(response: ErrResponse): Buffer {
  const w = new FlatWriter(32)
  w.startTable(1)
  w.addU8(0, response.code)
  return w.finish(w.endTable(), MessageType.RPC_ERROR)
}

export function decodeErrResponse(payload: Buffer): ErrResponse {
  const r = new FlatReader(payload)
  return { code: r.u8(r.root('Err.Resp'), 0) }
}
