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
  beginFrame,
  bytes,
  endFrame,
  entriesBytes,
  fullVtable,
  linesBytes,
  nameVtable,
  pad4,
  preamble,
  preambleSize,
  string,
  stringSize,
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

const REQ_TABLE = 4 + 4 + 4 + 4 + 4 + 4 + 4 + 4 // soffset, id, token, src_ip, path, args, headers, method(+3 pad)
// vtable size, table size, then the table offset of id, src_ip, method, path, args, headers, conf_token
const REQ_VTABLE = [4 + 2 * 7, REQ_TABLE, 4, 12, 28, 16, 20, 24, 8]

export function encodeReqCall(req: ReqCallFields, id: number, confToken: number): Buffer {
  const headers = req.headers
  const lines = 'lines' in headers ? headers.lines : undefined
  const host = 'lines' in headers ? headers.host : undefined

  // Pass 1: the exact size.
  let size = FRAME_HEADER_LENGTH + preambleSize(REQ_VTABLE) + REQ_TABLE
  size += stringSize(req.path.length) + pad4(4 + req.srcIp.length)
  const argsBytes = entriesBytes(req.args)
  size += argsBytes
  size += lines === undefined ? entriesBytes(headers as readonly TextEntry[]) : linesBytes(lines, host)

  // Pass 2: every byte in order. Positions are relative to the payload (byte 4 of the frame).
  const buf = beginFrame(MessageType.RPC_HTTP_REQ_CALL, size)
  const table = preamble(REQ_VTABLE)
  const path = table + REQ_TABLE
  const srcIp = path + stringSize(req.path.length)
  const args = srcIp + pad4(4 + req.srcIp.length)
  const headersAt = args + argsBytes
  u32(table - 4) // soffset back to the Req vtable, right after the root
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

  writeEntries(req.args, fullVtable(table), nameVtable(table))
  if (lines === undefined) writeEntries(headers as readonly TextEntry[], fullVtable(table), nameVtable(table))
  else writeLines(lines, host, fullVtable(table), true)
  endFrame()
  return buf
}
