// The hot path: HTTPReqCall.Req, once per runner call, written front to back in one pass.
//
// The general FlatWriter builds back to front and has to look for vtables, grow, pad as it
// goes. This message has a fixed shape, so its exact size is computed first and then every
// byte is written in order into one buffer that also holds the frame header: no growth, no
// search, no second copy, and header names lower-cased while they are copied. Layout:
//
//   frame header | root uoffset | Req vtable | TextEntry vtables (name+value, name only)
//   | Req table | path | src_ip | args vector | args entries | headers vector | headers entries
//
// Every uoffset points forward (children follow their parent); each entry table points back
// at its shared vtable through its signed soffset. All seven Req fields are written, zeros
// included: readers see the same values as from APISIX's builder, which omits zeros.
import { writeBinary, type TextEntry, type WireText } from '../bytes.js'
import { FRAME_HEADER_LENGTH, MAX_PAYLOAD_LENGTH, MessageType } from '../constants.js'
import { payloadTooLarge } from '../flat-writer.js'

/**
 * Header lines as Node gives them ([name, value, name, value, …]); names are lower-cased
 * while encoded, and the value of `host` may be replaced (APISIX sends `$upstream_host`).
 */
export interface HeaderLines {
  readonly lines: readonly string[]
  readonly host?: string | undefined
}

export interface ReqCallFields {
  readonly srcIp: Uint8Array
  readonly method: number
  readonly path: WireText
  readonly args: readonly TextEntry[]
  readonly headers: readonly TextEntry[] | HeaderLines
}

const REQ_VTABLE = 4 + 2 * 7 // 18 bytes, padded to 20
const REQ_VTABLE_PADDED = 20
const ENTRY_VTABLE_FULL = 8 // size, table size, name, value
const ENTRY_VTABLE_NAME_ONLY = 8 // size, table size, name, (2 bytes padding)
const REQ_TABLE = 4 + 4 + 4 + 4 + 4 + 4 + 4 + 4 // soffset, id, token, src_ip, path, args, headers, method(+3 pad)

// vtable size, table size, then the table offset of id, src_ip, method, path, args, headers,
// conf_token, and two bytes of padding
const REQ_VTABLE_FIELDS = [REQ_VTABLE, REQ_TABLE, 4, 12, 28, 16, 20, 24, 8, 0]

const pad4 = (n: number): number => (n + 3) & ~3
const EMPTY = Buffer.alloc(0)
const stringSize = (length: number): number => pad4(4 + length + 1)

export function encodeReqCall(req: ReqCallFields, id: number, confToken: number): Buffer {
  const headers = req.headers
  const lines = 'lines' in headers ? headers.lines : undefined
  const host = 'lines' in headers ? headers.host : undefined

  // Pass 1: the exact size.
  let size = FRAME_HEADER_LENGTH + 4 + REQ_VTABLE_PADDED + ENTRY_VTABLE_FULL + ENTRY_VTABLE_NAME_ONLY + REQ_TABLE
  size += stringSize(req.path.length) + pad4(4 + req.srcIp.length)
  size += entriesSize(req.args)
  if (lines === undefined) size += entriesSize(headers as readonly TextEntry[])
  else {
    size += 4 + 2 * lines.length // vector: 4 bytes per line, lines are [name, value] pairs
    for (let i = 0; i < lines.length; i += 2) {
      const value = host !== undefined && isHost(lines[i]!) ? host : lines[i + 1]!
      size += 12 + stringSize(lines[i]!.length) + stringSize(value.length)
    }
  }
  if (size - FRAME_HEADER_LENGTH > MAX_PAYLOAD_LENGTH) throw payloadTooLarge(size - FRAME_HEADER_LENGTH)

  const buf = Buffer.allocUnsafe(size)
  out = buf
  buf[0] = MessageType.RPC_HTTP_REQ_CALL
  buf[1] = (size - 4) >>> 16
  buf[2] = (size - 4) >>> 8
  buf[3] = size - 4
  // Positions below are relative to the payload (byte 4 of the frame).
  const base = FRAME_HEADER_LENGTH
  const reqVtable = 4
  const fullVtable = reqVtable + REQ_VTABLE_PADDED
  const nameVtable = fullVtable + ENTRY_VTABLE_FULL
  const table = nameVtable + ENTRY_VTABLE_NAME_ONLY

  at = base
  u32(table) // root
  for (let i = 0; i < REQ_VTABLE_FIELDS.length; i++) u16(REQ_VTABLE_FIELDS[i]!)
  // TextEntry vtables: table = [soffset, value, name] with a value, [soffset, name] without
  u16(8), u16(12), u16(8), u16(4)
  u16(6), u16(8), u16(4), u16(0)

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
  else writeLines(lines, host, fullVtable)
  out = EMPTY // do not keep the last message alive
  return buf
}

function entriesSize(entries: readonly TextEntry[]): number {
  let size = 4 + 4 * entries.length
  for (const { name, value } of entries) {
    size += value === undefined ? 8 + stringSize(name.length) : 12 + stringSize(name.length) + stringSize(value.length)
  }
  return size
}

/** The vector, then each entry: its table, its name, its value. */
function writeEntries(entries: readonly TextEntry[], fullVtable: number, nameVtable: number): void {
  const count = entries.length
  u32(count)
  const vector = at - FRAME_HEADER_LENGTH
  let entry = vector + 4 * count
  for (let i = 0; i < count; i++) {
    const { name, value } = entries[i]!
    u32(entry - (vector + 4 * i))
    entry += value === undefined ? 8 + stringSize(name.length) : 12 + stringSize(name.length) + stringSize(value.length)
  }
  for (let i = 0; i < count; i++) {
    const { name, value } = entries[i]!
    const table = at - FRAME_HEADER_LENGTH
    if (value === undefined) {
      u32(table - nameVtable)
      u32(4) // name follows the table's 8 bytes
      string(name, false)
    } else {
      u32(table - fullVtable)
      u32(8 + stringSize(name.length)) // value: after the name
      u32(4) // name: right after the table
      string(name, false)
      string(value, false)
    }
  }
}

function writeLines(lines: readonly string[], host: string | undefined, fullVtable: number): void {
  const count = lines.length >> 1
  u32(count)
  const vector = at - FRAME_HEADER_LENGTH
  let entry = vector + 4 * count
  for (let i = 0; i < count; i++) {
    const name = lines[2 * i]!
    const value = host !== undefined && isHost(name) ? host : lines[2 * i + 1]!
    u32(entry - (vector + 4 * i))
    entry += 12 + stringSize(name.length) + stringSize(value.length)
  }
  for (let i = 0; i < count; i++) {
    const name = lines[2 * i]!
    const value = host !== undefined && isHost(name) ? host : lines[2 * i + 1]!
    const table = at - FRAME_HEADER_LENGTH
    u32(table - fullVtable)
    u32(8 + stringSize(name.length))
    u32(4)
    string(name, true)
    string(value, false)
  }
}

function isHost(name: string): boolean {
  return name.length === 4 && (name === 'host' || name.toLowerCase() === 'host')
}

// The cursor: module state, not an object, so that these small writers inline (encoding is
// synchronous: one message at a time).
let out: Buffer = EMPTY
let at = 0

function u8(value: number): void {
  out[at++] = value
}

function u16(value: number): void {
  out[at] = value
  out[at + 1] = value >>> 8
  at += 2
}

function u32(value: number): void {
  out[at] = value
  out[at + 1] = value >>> 8
  out[at + 2] = value >>> 16
  out[at + 3] = value >>> 24
  at += 4
}

function zeros(count: number): void {
  for (let i = 0; i < count; i++) out[at++] = 0
}

function bytes(data: Uint8Array): void {
  if (data.length > 64) out.set(data, at)
  else for (let i = 0; i < data.length; i++) out[at + i] = data[i]!
  at += data.length
}

/** Length, bytes (names lower-cased if asked), NUL, padding to 4. */
function string(text: WireText, lowerCase: boolean): void {
  const length = text.length
  u32(length)
  if (typeof text !== 'string') bytes(text)
  else {
    if (!lowerCase) writeBinary(out, text, at)
    else {
      for (let i = 0; i < length; i++) {
        const c = text.charCodeAt(i)
        out[at + i] = c >= 65 && c <= 90 ? c + 32 : c
      }
    }
    at += length
  }
  zeros(pad4(4 + length + 1) - 4 - length)
}
