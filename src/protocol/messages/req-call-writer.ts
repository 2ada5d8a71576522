// The hot path: HTTPReqCall.Req, once per runner call, written front to back in one pass
// (front-writer.ts) into one buffer that also holds the frame header, header names
// lower-cased while they are copied. Layout:
//
//   frame header | root uoffset | Req vtable | TextEntry vtables (name+value, name only)
//   | Req table | path | src_ip | args vector | args entries | headers vector | headers entries
//
// All seven Req fields are written, zeros included: readers see the same values as from
// APISIX's builder, which omits zeros.
import type { TextEntry, WireText } from '../bytes.js'
import { FRAME_HEADER_LENGTH, MessageType } from '../constants.js'
import {
  ENTRY_VTABLE_FULL,
  ENTRY_VTABLE_NAME_ONLY,
  beginFrame,
  bytes,
  endFrame,
  entriesSize,
  entryVtables,
  linesSize,
  pad4,
  string,
  stringSize,
  u16,
  u32,
  u8,
  writeEntries,
  writeLines,
  zeros,
  type HeaderLines,
} from './front-writer.js'

export type { HeaderLines } from './front-writer.js'

export interface ReqCallFields {
  readonly srcIp: Uint8Array
  readonly method: number
  readonly path: WireText
  readonly args: readonly TextEntry[]
  readonly headers: readonly TextEntry[] | HeaderLines
}

const REQ_VTABLE_PADDED = 20 // 4 + 2 * 7 = 18 bytes, padded
const REQ_TABLE = 4 + 4 + 4 + 4 + 4 + 4 + 4 + 4 // soffset, id, token, src_ip, path, args, headers, method(+3 pad)

// vtable size, table size, then the table offset of id, src_ip, method, path, args, headers,
// conf_token, and two bytes of padding
const REQ_VTABLE_FIELDS = [4 + 2 * 7, REQ_TABLE, 4, 12, 28, 16, 20, 24, 8, 0]

export function encodeReqCall(req: ReqCallFields, id: number, confToken: number): Buffer {
  const headers = req.headers
  const lines = 'lines' in headers ? headers.lines : undefined
  const host = 'lines' in headers ? headers.host : undefined

  // Pass 1: the exact size.
  let size = FRAME_HEADER_LENGTH + 4 + REQ_VTABLE_PADDED + ENTRY_VTABLE_FULL + ENTRY_VTABLE_NAME_ONLY + REQ_TABLE
  size += stringSize(req.path.length) + pad4(4 + req.srcIp.length)
  size += entriesSize(req.args)
  size += lines === undefined ? entriesSize(headers as readonly TextEntry[]) : linesSize(lines, host)

  const buf = beginFrame(MessageType.RPC_HTTP_REQ_CALL, size)
  // Positions below are relative to the payload (byte 4 of the frame).
  const reqVtable = 4
  const fullVtable = reqVtable + REQ_VTABLE_PADDED
  const nameVtable = fullVtable + ENTRY_VTABLE_FULL
  const table = nameVtable + ENTRY_VTABLE_NAME_ONLY

  u32(table) // root
  for (let i = 0; i < REQ_VTABLE_FIELDS.length; i++) u16(REQ_VTABLE_FIELDS[i]!)
  entryVtables()

  const path = table + REQ_TABLE
  const srcIp = path + stringSize(req.path.length)
  const args = srcIp + pad4(4 + req.srcIp.length)
  const headersAt = args + entriesSize(req.args)
  u32(table - reqVtable)
  u32(id)
  u32(confToken)
  u32(srcIp - (table + 12))
  u32(path - (table + 16))
  u32(args - (table + 20))
  u32(headersAt - (table + 24))
  u8(req.method), u8(0), u8(0), u8(0)

  string(req.path, false)
  u32(req.srcIp.length)
  bytes(req.srcIp)
  zeros(pad4(req.srcIp.length) - req.srcIp.length)

  writeEntries(req.args, fullVtable, nameVtable)
  if (lines === undefined) writeEntries(headers as readonly TextEntry[], fullVtable, nameVtable)
  else writeLines(lines, host, fullVtable, true)
  endFrame()
  return buf
}
