// A bounds-checked FlatBuffers reader for this protocol's tables.
//
// The JavaScript `flatbuffers` runtime has no verifier: garbage reads back as garbage (or
// as zeros, or past the end of the buffer). A runner is another process that can send
// anything, so every position read here is checked against the payload first, and a
// payload that points outside itself fails with a BadMessage naming what was wrong. The
// checks cost a comparison per access; nothing is decoded that the caller does not ask for.
import { readBinary, type DecodedTextEntry } from './bytes.js'

/** A payload that is not a valid message. Turned into an RpcError by the caller. */
export class BadMessage extends Error {
  override name = 'BadMessage'
}

export class FlatReader {
  readonly buf: Buffer

  constructor(payload: Buffer) {
    this.buf = payload
  }

  #check(at: number, width: number, what: string): void {
    if (at < 0 || at + width > this.buf.length) {
      throw new BadMessage(`${what} at ${at} is outside the ${this.buf.length}-byte payload`)
    }
  }

  #u32(at: number): number {
    return this.buf.readUInt32LE(at)
  }

  /** The root table's position. */
  root(name: string): number {
    if (this.buf.length === 0) throw new BadMessage(`empty payload, expected ${name}`)
    this.#check(0, 4, `${name} root offset`)
    return this.table(this.#u32(0), name)
  }

  /** Checks the table at `at` and its vtable; returns `at`. */
  table(at: number, name: string): number {
    this.#check(at, 4, name)
    const vtable = at - this.buf.readInt32LE(at)
    this.#check(vtable, 4, `${name} vtable`)
    const vtableSize = this.buf.readUInt16LE(vtable)
    if (vtableSize < 4 || vtableSize % 2 !== 0) throw new BadMessage(`${name} vtable has size ${vtableSize}`)
    this.#check(vtable, vtableSize, `${name} vtable`)
    this.#check(at, this.buf.readUInt16LE(vtable + 2), name)
    return at
  }

  /**
   * Position of field `id` in the table at `table`, or 0 when absent. Reads bytes directly:
   * `table` was checked by table(), with its vtable, so Buffer's own range checks
   * (readUInt16LE & co.) would only repeat them on the decoder's hottest line.
   */
  field(table: number, id: number, width: number): number {
    const b = this.buf
    const vtable = table - (b[table]! | (b[table + 1]! << 8) | (b[table + 2]! << 16) | (b[table + 3]! << 24))
    const slot = 4 + 2 * id
    if (slot >= (b[vtable]! | (b[vtable + 1]! << 8))) return 0
    const offset = b[vtable + slot]! | (b[vtable + slot + 1]! << 8)
    if (offset === 0) return 0
    if (offset + width > (b[vtable + 2]! | (b[vtable + 3]! << 8))) {
      throw new BadMessage(`field ${id} at ${offset} overruns its table`)
    }
    return table + offset
  }

  u8(table: number, id: number): number {
    const at = this.field(table, id, 1)
    return at === 0 ? 0 : this.buf[at]!
  }

  u16(table: number, id: number): number {
    const at = this.field(table, id, 2)
    return at === 0 ? 0 : this.buf.readUInt16LE(at)
  }

  u32(table: number, id: number): number {
    const at = this.field(table, id, 4)
    return at === 0 ? 0 : this.#u32(at)
  }

  /** Follows an offset field; 0 when absent. */
  #target(table: number, id: number, what: string): number {
    const at = this.field(table, id, 4)
    if (at === 0) return 0
    const target = at + this.#u32(at)
    this.#check(target, 4, what)
    return target
  }

  /** [start, end) of a string or `[ubyte]` field's bytes, or undefined when absent. */
  #span(table: number, id: number, what: string): [number, number] | undefined {
    const at = this.#target(table, id, what)
    if (at === 0) return undefined
    const length = this.#u32(at)
    this.#check(at + 4, length, what)
    return [at + 4, at + 4 + length]
  }

  /** A string field as a binary string (see bytes.ts); undefined when absent. */
  string(table: number, id: number): string | undefined {
    const span = this.#span(table, id, 'string')
    return span && readBinary(this.buf, span[0], span[1])
  }

  /** A `[ubyte]` field as a view into the payload (no copy); undefined when absent. */
  bytes(table: number, id: number): Buffer | undefined {
    const span = this.#span(table, id, 'byte vector')
    return span && this.buf.subarray(span[0], span[1])
  }

  /** Positions of the tables in a vector-of-tables field; empty when absent. */
  tables(table: number, id: number, name: string): number[] {
    const at = this.#target(table, id, `${name} vector`)
    if (at === 0) return []
    const count = this.#u32(at)
    this.#check(at + 4, count * 4, `${name} vector`)
    const tables = new Array<number>(count)
    for (let i = 0; i < count; i++) {
      const item = at + 4 + i * 4
      tables[i] = this.table(item + this.#u32(item), name)
    }
    return tables
  }

  /** A `[TextEntry]` field. A nameless entry is malformed: the gateway cannot act on it. */
  textEntries(table: number, id: number): DecodedTextEntry[] {
    const tables = this.tables(table, id, 'TextEntry')
    const entries = new Array<DecodedTextEntry>(tables.length)
    for (let i = 0; i < tables.length; i++) {
      const name = this.string(tables[i]!, 0)
      if (name === undefined) throw new BadMessage(`TextEntry ${i} has no name`)
      entries[i] = { name, value: this.string(tables[i]!, 1) }
    }
    return entries
  }

  /** The table an offset field points at, checked; 0 when absent. */
  child(table: number, id: number, name: string): number {
    const at = this.#target(table, id, name)
    return at === 0 ? 0 : this.table(at, name)
  }
}
