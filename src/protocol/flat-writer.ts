// A FlatBuffers builder specialised for this protocol, writing a whole frame.
//
// Why not `flatbuffers.Builder`: it encodes JavaScript strings as UTF-8 (our strings are
// binary, see bytes.ts), it needs one TextEncoder allocation per string, and its output
// must be copied once more to put the 4-byte frame header in front. This writer builds
// back to front like every FlatBuffers builder, writes binary strings straight into the
// buffer with `latin1Write`, and finishes by writing the frame header in front of the
// payload, so the frame leaves in one write with no further copy.
//
// Offsets handed out are "distance from the end of the buffer", as in the reference
// builders, so they survive the buffer growing (data is always kept at the end).
import { ExtPluginError, ErrorCode } from '../errors.js'
import { FRAME_HEADER_LENGTH, MAX_PAYLOAD_LENGTH } from './constants.js'
import { writeBinary, type TextEntry, type WireText } from './bytes.js'

/** Where a finished string, vector or table lives, for the fields that point at it. */
export type Offset = number

/** Raised before anything is sent, with APISIX's text (protocol.md §1). */
export function payloadTooLarge(length: number): ExtPluginError {
  return new ExtPluginError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `the max length of data is ${MAX_PAYLOAD_LENGTH} but got ${length}`,
  )
}

/** A size hint for the writer: strings plus per-entry overhead. */
export function entriesSize(entries: readonly TextEntry[] | undefined): number {
  if (entries === undefined) return 0
  let size = 8 + entries.length * 24
  for (const entry of entries) size += entry.name.length + (entry.value?.length ?? 0)
  return size
}

const VTABLE_FIELDS_MAX = 8

export class FlatWriter {
  #buf: Buffer
  /** Index of the first written byte; everything from here to the end is output. */
  #head: number
  #minAlign = 1
  /** Field slots of the table being built: 0 = absent, else the field's offset. */
  readonly #slots = new Array<number>(VTABLE_FIELDS_MAX).fill(0)
  #slotCount = 0
  #tableStart = 0
  /** Offsets of the vtables written so far, for de-duplication. */
  readonly #vtables: number[] = []
  /** The TextEntry vtables of this message: [name only, name and value]; 0 until written. */
  readonly #entryVtables = [0, 0]

  constructor(sizeHint = 256) {
    this.#buf = Buffer.allocUnsafe(Math.max(64, sizeHint + FRAME_HEADER_LENGTH + 8))
    this.#head = this.#buf.length
  }

  /** Bytes written so far, measured from the end. */
  offset(): Offset {
    return this.#buf.length - this.#head
  }

  /** Pad so that, after `additional` more bytes, the position is `size`-aligned. */
  #prep(size: number, additional: number): void {
    if (size > this.#minAlign) this.#minAlign = size
    const pad = (~(this.offset() + additional) + 1) & (size - 1)
    this.#reserve(pad + size + additional)
    for (let i = 0; i < pad; i++) this.#buf[--this.#head] = 0
  }

  #reserve(bytes: number): void {
    if (this.#head >= bytes) return
    const used = this.offset()
    let size = this.#buf.length * 2
    while (size - used < bytes) size *= 2
    if (size > MAX_PAYLOAD_LENGTH * 2 + 64) {
      // Far past what a frame may carry: refuse now rather than allocate gigabytes.
      throw payloadTooLarge(used + bytes)
    }
    const grown = Buffer.allocUnsafe(size)
    this.#buf.copy(grown, size - used, this.#head)
    this.#buf = grown
    this.#head = size - used
  }

  #u8(value: number): void {
    this.#buf[--this.#head] = value
  }

  #u16(value: number): void {
    const at = (this.#head -= 2)
    this.#buf[at] = value
    this.#buf[at + 1] = value >>> 8
  }

  #u32(value: number): void {
    const at = (this.#head -= 4)
    const buf = this.#buf
    buf[at] = value
    buf[at + 1] = value >>> 8
    buf[at + 2] = value >>> 16
    buf[at + 3] = value >>> 24
  }

  /** A string: length, bytes, NUL. A JavaScript string is written as binary (latin1). */
  string(text: WireText): Offset {
    const length = text.length
    this.#prep(4, length + 1)
    this.#u8(0)
    this.#head -= length
    if (typeof text === 'string') writeBinary(this.#buf, text, this.#head)
    else copyBytes(this.#buf, text, this.#head)
    this.#u32(length)
    return this.offset()
  }

  /** A `[ubyte]` vector. A JavaScript string is written as binary (latin1). */
  bytes(data: WireText): Offset {
    const length = data.length
    this.#prep(4, length)
    this.#head -= length
    if (typeof data === 'string') writeBinary(this.#buf, data, this.#head)
    else copyBytes(this.#buf, data, this.#head)
    this.#u32(length)
    return this.offset()
  }

  /** A vector of offsets (tables or strings), in the given order. */
  offsets(items: readonly Offset[], count = items.length): Offset {
    this.#prep(4, 4 * count)
    for (let i = count - 1; i >= 0; i--) this.#u32(this.offset() + 4 - items[i]!)
    this.#u32(count)
    return this.offset()
  }

  /** `[TextEntry]`, built in the order APISIX's builder uses: each name, value, entry. */
  textEntries(entries: readonly TextEntry[]): Offset {
    const count = entries.length
    const tables = count <= scratch.length ? scratch : new Array<number>(count)
    for (let i = 0; i < count; i++) {
      const entry = entries[i]!
      const name = this.string(entry.name)
      const value = entry.value === undefined ? 0 : this.string(entry.value)
      tables[i] = this.#textEntry(name, value)
    }
    return this.offsets(tables, count)
  }

  /**
   * One TextEntry table. Every entry of a message has one of two shapes (with or without a
   * value), so after the first of each shape the table is written directly against that
   * shape's vtable: the generic path's slot bookkeeping and vtable search cost more than
   * the entry itself.
   */
  #textEntry(name: Offset, value: Offset): Offset {
    const shape = value === 0 ? 0 : 1
    const vtable = this.#entryVtables[shape]!
    if (vtable === 0) {
      this.startTable(2)
      this.addOffset(0, name)
      this.addOffset(1, value)
      const table = this.endTable()
      this.#entryVtables[shape] = table + this.#i32At(table)
      return table
    }
    this.#prep(4, 8 + 4 * shape)
    this.#u32(this.offset() + 4 - name)
    if (shape === 1) this.#u32(this.offset() + 4 - value)
    this.#u32(0)
    const table = this.offset()
    this.#writeI32At(table, vtable - table)
    return table
  }

  /** The soffset stored at table `table` (distance-from-end terms: vtable = table - it). */
  #i32At(table: Offset): number {
    return this.#buf.readInt32LE(this.#buf.length - table)
  }

  #writeI32At(offset: Offset, value: number): void {
    const at = this.#buf.length - offset
    const buf = this.#buf
    buf[at] = value
    buf[at + 1] = value >> 8
    buf[at + 2] = value >> 16
    buf[at + 3] = value >> 24
  }

  startTable(fieldCount: number): void {
    const slots = this.#slots
    for (let i = 0; i < fieldCount; i++) slots[i] = 0
    this.#slotCount = fieldCount
    this.#tableStart = this.offset()
  }

  /** A 1-byte scalar; skipped when equal to the default, as the Lua builder does. */
  addU8(id: number, value: number, defaultValue = 0): void {
    if (value === defaultValue) return
    this.#prep(1, 0)
    this.#u8(value)
    this.#slots[id] = this.offset()
  }

  addU16(id: number, value: number, defaultValue = 0): void {
    if (value === defaultValue) return
    this.#prep(2, 0)
    this.#u16(value)
    this.#slots[id] = this.offset()
  }

  addU32(id: number, value: number, defaultValue = 0): void {
    if (value === defaultValue) return
    this.#prep(4, 0)
    this.#u32(value)
    this.#slots[id] = this.offset()
  }

  /** An offset field; 0 means absent. */
  addOffset(id: number, target: Offset): void {
    if (target === 0) return
    this.#prep(4, 0)
    this.#u32(this.offset() + 4 - target)
    this.#slots[id] = this.offset()
  }

  endTable(): Offset {
    this.#prep(4, 0)
    this.#u32(0) // soffset to the vtable, patched below
    const table = this.offset()
    let used = this.#slotCount
    while (used > 0 && this.#slots[used - 1] === 0) used--
    this.#reserve((used + 2) * 2)
    for (let i = used - 1; i >= 0; i--) {
      const slot = this.#slots[i]!
      this.#u16(slot === 0 ? 0 : table - slot)
    }
    this.#u16(table - this.#tableStart)
    this.#u16((used + 2) * 2)

    const vtable = this.offset()
    const existing = this.#findVtable(vtable, (used + 2) * 2)
    if (existing === 0) {
      this.#vtables.push(vtable)
      this.#writeI32At(table, vtable - table)
    } else {
      this.#head = this.#buf.length - table
      this.#writeI32At(table, existing - table)
    }
    return table
  }

  #findVtable(vtable: Offset, size: number): Offset {
    const buf = this.#buf
    const at = buf.length - vtable
    search: for (const candidate of this.#vtables) {
      const from = buf.length - candidate
      if (buf[from] !== buf[at] || buf[from + 1] !== buf[at + 1]) continue
      for (let i = 2; i < size; i++) if (buf[from + i] !== buf[at + i]) continue search
      return candidate
    }
    return 0
  }

  /** Writes the root offset and the frame header; returns the whole frame. */
  finish(root: Offset, type: number): Buffer {
    this.#prep(this.#minAlign, 4)
    this.#u32(this.offset() + 4 - root)
    const length = this.offset()
    if (length > MAX_PAYLOAD_LENGTH) throw payloadTooLarge(length)
    this.#reserve(FRAME_HEADER_LENGTH)
    const at = (this.#head -= FRAME_HEADER_LENGTH)
    const buf = this.#buf
    buf[at] = type
    buf[at + 1] = length >>> 16
    buf[at + 2] = length >>> 8
    buf[at + 3] = length
    return buf.subarray(at)
  }
}

/** Byte copy; a loop for the short arrays of this protocol (an IP address), else native. */
function copyBytes(buf: Buffer, data: Uint8Array, at: number): void {
  const length = data.length
  if (length > 64) buf.set(data, at)
  else for (let i = 0; i < length; i++) buf[at + i] = data[i]!
}

// Entry offsets are collected before the vector is written; one shared array avoids an
// allocation per message for the usual header counts. Encoding is synchronous, so no
// two messages ever use it at once.
const scratch = new Array<number>(128).fill(0)
