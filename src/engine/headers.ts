// An ordered, case-preserving list of header lines with case-insensitive lookup: what HTTP
// actually carries (repeated names, original case), unlike Node's folded `req.headers`.
// Stored flat as [name, value, name, value, …] like Node's rawHeaders, so building one
// from a request costs nothing. Values are binary strings (one char per byte).

export class HeaderList {
  /** [name, value, name, value, …] */
  #raw: string[]
  /** False while #raw is borrowed (e.g. a request's rawHeaders): copied on first change. */
  #owned: boolean
  #modified = false

  /**
   * `raw` is [name, value, …]. With `borrowed`, the array is someone else's (a request's
   * rawHeaders) and is copied before the first change, so reading costs no copy.
   */
  constructor(raw: string[] = [], borrowed = false) {
    this.#raw = raw
    this.#owned = !borrowed
  }

  /** True once set/append/delete changed something. */
  get modified(): boolean {
    return this.#modified
  }

  #own(): string[] {
    this.#modified = true
    if (!this.#owned) {
      this.#raw = this.#raw.slice()
      this.#owned = true
    }
    return this.#raw
  }

  static from(entries: Iterable<readonly [string, string]>): HeaderList {
    const raw: string[] = []
    for (const [name, value] of entries) raw.push(name, value)
    return new HeaderList(raw)
  }

  /** Number of header lines. */
  get size(): number {
    return this.#raw.length >> 1
  }

  /** The flat [name, value, …] array (do not modify). */
  get raw(): readonly string[] {
    return this.#raw
  }

  get(name: string): string | undefined {
    const raw = this.#raw
    for (let i = 0; i < raw.length; i += 2) if (sameName(raw[i]!, name)) return raw[i + 1]
    return undefined
  }

  getAll(name: string): string[] {
    const values: string[] = []
    const raw = this.#raw
    for (let i = 0; i < raw.length; i += 2) if (sameName(raw[i]!, name)) values.push(raw[i + 1]!)
    return values
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  /** Replaces every line of `name` with one line, where the first one was (else at the end). */
  set(name: string, value: string): void {
    const raw = this.#own()
    let at = -1
    for (let i = 0; i < raw.length; ) {
      if (sameName(raw[i]!, name)) {
        if (at < 0) {
          at = i
          raw[i] = name
          raw[i + 1] = value
          i += 2
        } else raw.splice(i, 2)
      } else i += 2
    }
    if (at < 0) raw.push(name, value)
  }

  append(name: string, value: string): void {
    this.#own().push(name, value)
  }

  delete(name: string): void {
    if (!this.has(name)) return
    const raw = this.#own()
    for (let i = 0; i < raw.length; ) {
      if (sameName(raw[i]!, name)) raw.splice(i, 2)
      else i += 2
    }
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    const raw = this.#raw
    for (let i = 0; i < raw.length; i += 2) yield [raw[i]!, raw[i + 1]!]
  }

  clone(): HeaderList {
    return new HeaderList(this.#raw.slice())
  }
}

/** ASCII case-insensitive equality without allocating lower-cased copies. */
export function sameName(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 65 && x <= 90) x += 32
    if (y >= 65 && y <= 90) y += 32
    if (x !== y) return false
  }
  return true
}
