// Query arguments for plugins: multi-valued, case-sensitive, a bare key (`?z`) kept apart
// from an empty value (`?z=`), as the gateway sends them (protocol.md §4.2).
import type { DecodedTextEntry, TextEntry } from '../protocol/index.js'
import { checkBinary } from './call.js'
import type { RequestArgs } from './types.js'

const arg = (name: string, value: string): [string, string] => [checkBinary(name, 'an argument name'), checkBinary(String(value), 'an argument value')]

type Arg = [name: string, value: string | null]

export class ArgList implements RequestArgs {
  #args: Arg[]
  readonly #original: readonly DecodedTextEntry[]
  readonly #touched = new Set<string>()

  constructor(entries: readonly DecodedTextEntry[]) {
    this.#original = entries
    this.#args = entries.map((e) => [e.name, e.value ?? null])
  }

  get size(): number {
    return this.#args.length
  }

  get(name: string): string | null | undefined {
    for (const [n, v] of this.#args) if (n === name) return v
    return undefined
  }

  getAll(name: string): Array<string | null> {
    const values: Array<string | null> = []
    for (const [n, v] of this.#args) if (n === name) values.push(v)
    return values
  }

  has(name: string): boolean {
    return this.#args.some(([n]) => n === name)
  }

  entries(): Arg[] {
    return this.#args.map(([n, v]) => [n, v])
  }

  [Symbol.iterator](): Iterator<Arg> {
    return this.entries()[Symbol.iterator]()
  }

  set(name: string, value: string): this {
    const entry = arg(name, value)
    this.#touched.add(name)
    const at = this.#args.findIndex(([n]) => n === name)
    if (at < 0) {
      this.#args.push(entry)
    } else {
      this.#args[at] = entry
      this.#args = this.#args.filter(([n], i) => i <= at || n !== name)
    }
    return this
  }

  append(name: string, value: string): this {
    const entry = arg(name, value)
    this.#touched.add(name)
    this.#args.push(entry)
    return this
  }

  delete(name: string): this {
    this.#touched.add(name)
    this.#args = this.#args.filter(([n]) => n !== name)
    return this
  }

  /**
   * The Rewrite.args entries for the names whose values changed: an entry without value
   * deletes the key; otherwise one entry per value (the gateway sets on the first and
   * appends the others). A bare key cannot be sent: it goes out as an empty value.
   */
  changes(): TextEntry[] {
    const out: TextEntry[] = []
    for (const name of this.#touched) {
      const now = this.getAll(name)
      const before = this.#original.filter((e) => e.name === name)
      if (now.length === before.length && now.every((v, i) => v === (before[i]!.value ?? null))) continue
      if (now.length === 0) out.push({ name })
      else for (const value of now) out.push({ name, value: value ?? '' })
    }
    return out
  }
}
