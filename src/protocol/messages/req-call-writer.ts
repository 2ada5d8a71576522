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

const pad4 = (n: number): number => (n + 3) & ~3
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
  const w = new Cursor(buf)
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

  w.at = base
  w.u32(table) // root
  // Req vtable: fields id, src_ip, method, path, args, headers, conf_token at these table offsets
  w.u16(REQ_VTABLE).u16(REQ_TABLE).u16(4).u16(12).u16(28).u16(16).u16(20).u16(24).u16(8).u16(0)
  // TextEntry vtables: table = [soffset, value, name] with a value, [soffset, name] without
  w.u16(8).u16(12).u16(8).u16(4)
  w.u16(6).u16(8).u16(4).u16(0)

  const path = table + REQ_TABLE
  const srcIp = path + stringSize(req.path.length)
  const args = srcIp + pad4(4 + req.srcIp.length)
  const headersAt = args + entriesSize(req.args)
  w.i32(table - reqVtable)
  w.u32(id)
  w.u32(confToken)
  w.u32(srcIp - (table + 12))
  w.u32(path - (table + 16))
  w.u32(args - (table + 20))
  w.u32(headersAt - (table + 24))
  w.u8(req.method).u8(0).u8(0).u8(0)

  w.string(req.path, false)
  w.u32(req.srcIp.length)
  w.bytes(req.srcIp)
  w.zeros(pad4(req.srcIp.length) - req.srcIp.length)

  writeEntries(w, req.args, fullVtable, nameVtable)
  if (lines === undefined) writeEntries(w, headers as readonly TextEntry[], fullVtable, nameVtable)
  else writeLines(w, lines, host, fullVtable)
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
function writeEntries(w: Cursor, entries: readonly TextEntry[], fullVtable: number, nameVtable: number): void {
  const count = entries.length
  w.u32(count)
  const vector = w.at - FRAME_HEADER_LENGTH
  let entry = vector + 4 * count
  for (let i = 0; i < count; i++) {
    const { name, value } = entries[i]!
    w.u32(entry - (vector + 4 * i))
    entry += value === undefined ? 8 + stringSize(name.length) : 12 + stringSize(name.length) + stringSize(value.length)
  }
  for (let i = 0; i < count; i++) {
    const { name, value } = entries[i]!
    const table = w.at - FRAME_HEADER_LENGTH
    if (value === undefined) {
      w.i32(table - nameVtable)
      w.u32(4) // name follows the table's 8 bytes
      w.string(name, false)
    } else {
      w.i32(table - fullVtable)
      w.u32(8 + stringSize(name.length)) // value: after the name
      w.u32(4) // name: right after the table
      w.string(name, false)
      w.string(value, false)
    }
  }
}

function writeLines(w: Cursor, lines: readonly string[], host: string | undefined, fullVtable: number): void {
  const count = lines.length >> 1
  w.u32(count)
  const vector = w.at - FRAME_HEADER_LENGTH
  let entry = vector + 4 * count
  for (let i = 0; i < count; i++) {
    const name = lines[2 * i]!
    const value = host !== undefined && isHost(name) ? host : lines[2 * i + 1]!
    w.u32(entry - (vector + 4 * i))
    entry += 12 + stringSize(name.length) + stringSize(value.length)
  }
  for (let i = 0; i < count; i++) {
    const name = lines[2 * i]!
    const value = host !== undefined && isHost(name) ? host : lines[2 * i + 1]!
    const table = w.at - FRAME_HEADER_LENGTH
    w.i32(table - fullVtable)
    w.u32(8 + stringSize(name.length))
    w.u32(4)
    w.string(name, true)
    w.string(value, false)
  }
}

function isHost(name: string): boolean {
  return name.length === 4 && (name === 'host' || name.toLowerCase() === 'host')
}

/** Sequential little-endian writes into the frame. */
class Cursor {
  at = 0
  readonly #buf: Buffer

  constructor(buf: Buffer) {
    this.#buf = buf
  }

  u8(value: number): this {
    this.#buf[this.at++] = value
    return this
  }

  u16(value: number): this {
    const buf = this.#buf
    buf[this.at] = value
    buf[this.at + 1] = value >>> 8
    this.at += 2
    return this
  }

  u32(value: number): this {
    const buf = this.#buf
    const at = this.at
    buf[at] = value
    buf[at + 1] = value >>> 8
    buf[at + 2] = value >>> 16
    buf[at + 3] = value >>> 24
    this.at = at + 4
    return this
  }

  i32(value: number): this {
    return this.u32(value >>> 0)
  }

  zeros(count: number): void {
    for (let i = 0; i < count; i++) this.#buf[this.at++] = 0
  }

  bytes(data: Uint8Array): void {
    const buf = this.#buf
    if (data.length > 64) buf.set(data, this.at)
    else for (let i = 0; i < data.length; i++) buf[this.at + i] = data[i]!
    this.at += data.length
  }

  /** Length, bytes (names lower-cased if asked), NUL, padding to 4. */
  string(text: WireText, lowerCase: boolean): void {
    const length = text.length
    this.u32(length)
    const buf = this.#buf
    const at = this.at
    if (typeof text !== 'string') this.bytes(text)
    else if (!lowerCase) writeBinary(buf, text, at)
    else {
      for (let i = 0; i < length; i++) {
        const c = text.charCodeAt(i)
        buf[at + i] = c >= 65 && c <= 90 ? c + 32 : c
      }
    }
    this.at = at + length
    this.zeros(pad4(4 + length + 1) - 4 - length)
  }
}
