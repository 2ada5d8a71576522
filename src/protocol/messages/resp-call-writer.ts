// The response phase's hot path: HTTPRespCall.Req, once per runner call, written front to
// back in one pass (front-writer.ts), the upstream's header lines copied as they are (the
// runner sees the upstream's case). Layout:
//
//   frame header | root uoffset | Req vtable | TextEntry vtables (name+value, name only)
//   | Req table | headers vector | headers entries
//
// All four fields are written, zeros included.
import type { TextEntry } from '../bytes.js'
import { FRAME_HEADER_LENGTH, MessageType } from '../constants.js'
import {
  beginFrame,
  endFrame,
  entriesBytes,
  fullVtable,
  linesBytes,
  nameVtable,
  preamble,
  preambleSize,
  u16,
  u32,
  writeEntries,
  writeLines,
  type HeaderLines,
} from './front-writer.js'

export interface RespCallFields {
  readonly status: number
  /** The upstream's response headers with its case, one entry (or line) per value. */
  readonly headers: readonly TextEntry[] | HeaderLines
}

const REQ_TABLE = 4 + 4 + 4 + 4 + 4 // soffset, id, conf_token, headers, status(+2 pad)
// vtable size, table size, then the table offset of id, status, headers, conf_token
const REQ_VTABLE = [4 + 2 * 4, REQ_TABLE, 4, 16, 12, 8]

export function encodeRespCall(resp: RespCallFields, id: number, confToken: number): Buffer {
  const headers = resp.headers
  const lines = 'lines' in headers ? headers.lines : undefined
  const size =
    FRAME_HEADER_LENGTH + preambleSize(REQ_VTABLE) + REQ_TABLE +
    (lines === undefined ? entriesBytes(headers as readonly TextEntry[]) : linesBytes(lines, undefined))

  const buf = beginFrame(MessageType.RPC_HTTP_RESP_CALL, size)
  const table = preamble(REQ_VTABLE)
  u32(table - 4) // soffset back to the Req vtable, right after the root
  u32(id)
  u32(confToken)
  u32(REQ_TABLE - 12) // headers: the vector right after the table
  u16(resp.status), u16(0)

  if (lines === undefined) writeEntries(headers as readonly TextEntry[], fullVtable(table), nameVtable(table))
  else writeLines(lines, undefined, fullVtable(table), false)
  endFrame()
  return buf
}
