// Header lists for plugins: ordered lines, names kept as given, case-insensitive lookup,
// values as binary strings (types.ts). They remember what changed, so that the reply can
// carry only the changes (request headers) or nothing at all when nothing changed.
import type { DecodedTextEntry, TextEntry } from '../protocol/index.js'
import { checkBinary } from './call.js'
import type { HeaderValue, ReadonlyHeaders, RequestHeaders, ResponseHeaders } from './types.js'

interface Line {
  name: string
  /** Lower-case name, for lookups. */
  key: string
  value: string
}

export function toBinary(value: HeaderValue): string {
  if (typeof value === 'string') return checkBinary(value, 'a header value')
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1')
}

function checkName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('a header name must be a non-empty string')
  return checkBinary(name, 'a header name')
}

class HeaderLines implements ReadonlyHeaders {
  protected lines: Line[]
  /** Lower-case names that set/append/delete touched, in the order first touched. */
  protected readonly touched = new Set<string>()

  constructor(entries: readonly DecodedTextEntry[] = []) {
    this.lines = entries.map((e) => ({ name: e.name, key: e.name.toLowerCase(), value: e.value ?? '' }))
  }

  get size(): number {
    return this.lines.length
  }

  /** True once anything was set, appended or deleted (even back to the same value). */
  get changed(): boolean {
    return this.touched.size > 0
  }

  /** True when set/append/delete was used on `name`. */
  wasTouched(name: string): boolean {
    return this.touched.has(name.toLowerCase())
  }

  get(name: string): string | undefined {
    const key = name.toLowerCase()
    for (const line of this.lines) if (line.key === key) return line.value
    return undefined
  }

  getAll(name: string): string[] {
    const key = name.toLowerCase()
    const values: string[] = []
    for (const line of this.lines) if (line.key === key) values.push(line.value)
    return values
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  entries(): Array<[string, string]> {
    return this.lines.map((l) => [l.name, l.value])
  }

  [Symbol.iterator](): Iterator<[string, string]> {
    return this.entries()[Symbol.iterator]()
  }

  /** Every line as a TextEntry, optionally leaving some (lower-case) names out. */
  toEntries(omit?: ReadonlySet<string>): TextEntry[] {
    const out: TextEntry[] = []
    for (const line of this.lines) if (!omit?.has(line.key)) out.push({ name: line.name, value: line.value })
    return out
  }

  protected doSet(name: string, value: HeaderValue): void {
    const key = checkName(name).toLowerCase()
    const text = toBinary(value)
    this.touched.add(key)
    const at = this.lines.findIndex((l) => l.key === key)
    if (at < 0) {
      this.lines.push({ name, key, value: text })
      return
    }
    this.lines[at] = { name, key, value: text }
    this.lines = this.lines.filter((l, i) => i <= at || l.key !== key)
  }

  protected doAppend(name: string, value: HeaderValue): void {
    const key = checkName(name).toLowerCase()
    this.touched.add(key)
    this.lines.push({ name, key, value: toBinary(value) })
  }

  protected doDelete(name: string): void {
    const key = name.toLowerCase()
    this.touched.add(key)
    this.lines = this.lines.filter((l) => l.key !== key)
  }
}

/** Response headers: the Stop answer's, Rewrite.resp_headers, or the upstream response's. */
export class ResponseHeaderList extends HeaderLines implements ResponseHeaders {
  set(name: string, value: HeaderValue): this {
    this.doSet(name, value)
    return this
  }

  append(name: string, value: HeaderValue): this {
    this.doAppend(name, value)
    return this
  }

  delete(name: string): this {
    this.doDelete(name)
    return this
  }
}

/**
 * The request's headers. The reply carries one entry per changed name (protocol.md §5.3:
 * an entry sets the header to its value, an entry without value deletes it).
 */
export class RequestHeaderList extends HeaderLines implements RequestHeaders {
  readonly #original: readonly DecodedTextEntry[]

  constructor(entries: readonly DecodedTextEntry[]) {
    super(entries)
    this.#original = entries
  }

  set(name: string, value: HeaderValue): this {
    this.doSet(name, value)
    return this
  }

  delete(name: string): this {
    this.doDelete(name)
    return this
  }

  /** The Rewrite.headers entries: names whose values differ from what the gateway sent. */
  changes(): TextEntry[] {
    const out: TextEntry[] = []
    for (const key of this.touched) {
      const now = this.lines.filter((l) => l.key === key)
      const before = this.#original.filter((e) => e.name.toLowerCase() === key)
      if (now.length === before.length && now.every((l, i) => l.value === (before[i]!.value ?? ''))) continue
      out.push(now.length === 0 ? { name: key } : { name: now[0]!.name, value: now[0]!.value })
    }
    return out
  }
}
