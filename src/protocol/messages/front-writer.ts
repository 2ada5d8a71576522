// Writing a FlatBuffers message of a fixed shape front to back, in one pass, into a buffer of
// its exact size (req-call-writer.ts, resp-call-writer.ts): the hot path's messages. The
// general FlatWriter builds back to front and has to look for vtables, grow and pad as it
// goes; these shapes are known, so their size is computed first and each byte is written in
// order. Every uoffset points forward (children follow their parent); each entry table points
// back at a shared TextEntry vtable through its signed soffset.
//
// The cursor is module state, not an object, so that the small writers inline (encoding is
// synchronous: one message at a time). Positions handed to the writers are relative to the
// payload, which starts after the frame header.
import { writeBinary, type TextEntry, type WireText } from '../bytes.js'
import { FRAME_HEADER_LENGTH, MAX_PAYLOAD_LENGTH } from '../constants.js'
import { payloadTooLarge } from '../flat-writer.js'

/**
 * Header lines as Node gives them ([name, value, name, value, …]), encoded without a copy;
 * the value of `host` may be replaced (APISIX sends `$upstream_host`).
 */
export interface HeaderLines {
  readonly lines: readonly string[]
  readonly host?: string | undefined
}

/** A TextEntry vtable with a value: table = [soffset, value, name]. */
const ENTRY_VTABLE_FULL = 8
/** A TextEntry vtable without one: table = [soffset, name] (2 bytes of padding). */
const ENTRY_VTABLE_NAME_ONLY = 8

export const pad4 = (n: number): number => (n + 3) & ~3
export const stringSize = (length: number): number => pad4(4 + length + 1)
const EMPTY = Buffer.alloc(0)

let out: Buffer = EMPTY
let at = 0

/** A frame of `size` bytes (header included) of message `type`; the cursor at the payload. */
export function beginFrame(type: number, size: number): Buffer {
  if (size - FRAME_HEADER_LENGTH > MAX_PAYLOAD_LENGTH) throw payloadTooLarge(size - FRAME_HEADER_LENGTH)
  const buf = Buffer.allocUnsafe(size)
  out = buf
  buf[0] = type
  buf[1] = (size - 4) >>> 16
  buf[2] = (size - 4) >>> 8
  buf[3] = size - 4
  at = FRAME_HEADER_LENGTH
  return buf
}

/** Lets the last message go (the cursor must not keep it alive). */
export function endFrame(): void {
  out = EMPTY
}

/** The cursor's position relative to the payload. */
export function position(): number {
  return at - FRAME_HEADER_LENGTH
}

/** Bytes of what `preamble(vtable)` writes. */
export function preambleSize(vtable: readonly number[]): number {
  return 4 + pad4(2 * vtable.length) + ENTRY_VTABLE_FULL + ENTRY_VTABLE_NAME_ONLY
}

/**
 * What every hot-path message starts with: the root uoffset, the message's vtable (its
 * u16s, padded to 4), then the two TextEntry vtables, with a value and name only. Returns
 * the position of the message's table, which follows; see fullVtable() and nameVtable().
 */
export function preamble(vtable: readonly number[]): number {
  const table = preambleSize(vtable)
  u32(table)
  for (let i = 0; i < vtable.length; i++) u16(vtable[i]!)
  zeros(pad4(2 * vtable.length) - 2 * vtable.length)
  u16(8), u16(12), u16(8), u16(4)
  u16(6), u16(8), u16(4), u16(0)
  return table
}

/** Where preamble() put the TextEntry vtable with a value, given the table's position. */
export const fullVtable = (table: number): number => table - ENTRY_VTABLE_NAME_ONLY - ENTRY_VTABLE_FULL
/** Where preamble() put the TextEntry vtable with a name only. */
export const nameVtable = (table: number): number => table - ENTRY_VTABLE_NAME_ONLY

export function u8(value: number): void {
  out[at++] = value
}

export function u16(value: number): void {
  out[at] = value
  out[at + 1] = value >>> 8
  at += 2
}

export function u32(value: number): void {
  out[at] = value
  out[at + 1] = value >>> 8
  out[at + 2] = value >>> 16
  out[at + 3] = value >>> 24
  at += 4
}

export function zeros(count: number): void {
  for (let i = 0; i < count; i++) out[at++] = 0
}

export function bytes(data: Uint8Array): void {
  if (data.length > 64) out.set(data, at)
  else for (let i = 0; i < data.length; i++) out[at + i] = data[i]!
  at += data.length
}

/** Length, bytes (names lower-cased if asked), NUL, padding to 4. */
export function string(text: WireText, lowerCase: boolean): void {
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

/** Exactly the bytes a vector of entries takes: the vector, then each entry's table, name and value (flat-writer's entriesSize is only a capacity estimate). */
export function entriesBytes(entries: readonly TextEntry[]): number {
  let size = 4 + 4 * entries.length
  for (const { name, value } of entries) {
    size += value === undefined ? 8 + stringSize(name.length) : 12 + stringSize(name.length) + stringSize(value.length)
  }
  return size
}

/** Exactly the bytes a vector of header lines takes (lines are [name, value] pairs). */
export function linesBytes(lines: readonly string[], host: string | undefined): number {
  let size = 4 + 2 * lines.length
  for (let i = 0; i < lines.length; i += 2) {
    const value = host !== undefined && isHost(lines[i]!) ? host : lines[i + 1]!
    size += 12 + stringSize(lines[i]!.length) + stringSize(value.length)
  }
  return size
}

/** The vector, then each entry: its table, its name, its value. */
export function writeEntries(entries: readonly TextEntry[], fullVtable: number, nameVtable: number): void {
  const count = entries.length
  u32(count)
  const vector = position()
  let entry = vector + 4 * count
  for (let i = 0; i < count; i++) {
    const { name, value } = entries[i]!
    u32(entry - (vector + 4 * i))
    entry += value === undefined ? 8 + stringSize(name.length) : 12 + stringSize(name.length) + stringSize(value.length)
  }
  for (let i = 0; i < count; i++) {
    const { name, value } = entries[i]!
    const table = position()
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

/** Header lines as a vector of entries; names lower-cased when asked. */
export function writeLines(lines: readonly string[], host: string | undefined, fullVtable: number, lowerCase: boolean): void {
  const count = lines.length >> 1
  u32(count)
  const vector = position()
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
    const table = position()
    u32(table - fullVtable)
    u32(8 + stringSize(name.length))
    u32(4)
    string(name, lowerCase)
    string(value, false)
  }
}

function isHost(name: string): boolean {
  return name.length === 4 && (name === 'host' || name.toLowerCase() === 'host')
}
