// An ordered, case-preserving list of header lines with case-insensitive lookup: what HTTP
// actually carries (repeated names, original case), unlike Node's folded `req.headers`.
// Stored flat as [name, value, name, value, …] like Node's rawHeaders, so building one
// from a request costs nothing. Values are binary strings (one char per byte).

/** Lists up to this many lines are scanned; longer ones get an index (built on first need). */
const SCAN_LINES = 16
/** The name of a deleted line until the list is compacted (no header name can contain NUL). */
const DEAD = '\0'

export class HeaderList {
  /** [name, value, name, value, …]; deleted lines are DEAD until compacted. */
  #raw: string[]
  /** False while #raw is borrowed (e.g. a request's rawHeaders): copied on first change. */
  #owned: boolean
  #modified = false
  /** Deleted lines still in #raw. */
  #dead = 0
  /**
   * Positions (in #raw) of each lower-cased name's live lines, in order. Built lazily once
   * the list is long, so applying n lines costs O(n), not O(n²); dropped on compaction.
   */
  #index: Map<string, number[]> | undefined

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

  /** The index when the list is long enough to need one (building it if needed). */
  #indexed(): Map<string, number[]> | undefined {
    if (this.#index !== undefined) return this.#index
    const raw = this.#raw
    if (raw.length - 2 * this.#dead <= 2 * SCAN_LINES) return undefined
    const index = new Map<string, number[]>()
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!
      if (name === DEAD) continue
      const key = name.toLowerCase()
      const at = index.get(key)
      if (at === undefined) index.set(key, [i])
      else at.push(i)
    }
    return (this.#index = index)
  }

  /** Removes deleted lines; positions move, so the index goes too. */
  #compact(): string[] {
    if (this.#dead === 0) return this.#raw
    const raw = this.#raw
    let to = 0
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i] === DEAD) continue
      raw[to] = raw[i]!
      raw[to + 1] = raw[i + 1]!
      to += 2
    }
    raw.length = to
    this.#dead = 0
    this.#index = undefined
    return raw
  }

  static from(entries: Iterable<readonly [string, string]>): HeaderList {
    const raw: string[] = []
    for (const [name, value] of entries) raw.push(name, value)
    return new HeaderList(raw)
  }

  /** Number of header lines. */
  get size(): number {
    return (this.#raw.length >> 1) - this.#dead
  }

  /** The flat [name, value, …] array (do not modify). */
  get raw(): readonly string[] {
    return this.#compact()
  }

  get(name: string): string | undefined {
    const raw = this.#raw
    const index = this.#indexed()
    if (index !== undefined) {
      const at = index.get(name.toLowerCase())
      return at === undefined ? undefined : raw[at[0]! + 1]
    }
    for (let i = 0; i < raw.length; i += 2) if (sameName(raw[i]!, name)) return raw[i + 1]
    return undefined
  }

  getAll(name: string): string[] {
    const values: string[] = []
    const raw = this.#raw
    const index = this.#indexed()
    if (index !== undefined) {
      for (const i of index.get(name.toLowerCase()) ?? []) values.push(raw[i + 1]!)
      return values
    }
    for (let i = 0; i < raw.length; i += 2) if (sameName(raw[i]!, name)) values.push(raw[i + 1]!)
    return values
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  /** Replaces every line of `name` with one line, where the first one was (else at the end). */
  set(name: string, value: string): void {
    const raw = this.#own()
    const index = this.#indexed()
    if (index !== undefined) {
      const key = name.toLowerCase()
      const at = index.get(key)
      if (at === undefined) {
        index.set(key, [raw.length])
        raw.push(name, value)
        return
      }
      raw[at[0]!] = name
      raw[at[0]! + 1] = value
      for (let k = 1; k < at.length; k++) this.#kill(raw, at[k]!)
      at.length = 1
      return
    }
    let first = -1
    for (let i = 0; i < raw.length; ) {
      if (sameName(raw[i]!, name)) {
        if (first < 0) {
          first = i
          raw[i] = name
          raw[i + 1] = value
          i += 2
        } else raw.splice(i, 2)
      } else i += 2
    }
    if (first < 0) raw.push(name, value)
  }

  append(name: string, value: string): void {
    const raw = this.#own()
    const index = this.#indexed()
    if (index !== undefined) {
      const key = name.toLowerCase()
      const at = index.get(key)
      if (at === undefined) index.set(key, [raw.length])
      else at.push(raw.length)
    }
    raw.push(name, value)
  }

  delete(name: string): void {
    if (!this.has(name)) return
    const raw = this.#own()
    const index = this.#indexed()
    if (index !== undefined) {
      const key = name.toLowerCase()
      for (const i of index.get(key)!) this.#kill(raw, i)
      index.delete(key)
      return
    }
    for (let i = 0; i < raw.length; ) {
      if (sameName(raw[i]!, name)) raw.splice(i, 2)
      else i += 2
    }
  }

  #kill(raw: string[], i: number): void {
    raw[i] = DEAD
    raw[i + 1] = ''
    this.#dead++
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    const raw = this.#compact()
    for (let i = 0; i < raw.length; i += 2) yield [raw[i]!, raw[i + 1]!]
  }

  clone(): HeaderList {
    return new HeaderList(this.#compact().slice())
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
