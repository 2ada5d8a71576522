// One URI router of radixtree (apisix-config.md §2.3): exact paths in a Map, prefixes (the
// part of a pattern before its first `*`) in a character trie, so a lookup costs the length
// of the path, not the number of routes. Candidates come out exact first, then the longest
// prefix first; within one key by priority, then longer pattern, then file order.

export interface UriEntry<T> {
  readonly value: T
  readonly priority: number
  /** The pattern as written: its length is radixtree's second tie-breaker. */
  readonly pattern: string
  /** Position in the configuration, the last tie-breaker. */
  readonly order: number
  /** For patterns with a `*` before their end: the whole path must match this. */
  readonly glob: RegExp | undefined
}

interface TrieNode<T> {
  readonly children: Map<number, TrieNode<T>>
  entries: UriEntry<T>[] | undefined
}

export class UriIndex<T> {
  readonly #exact = new Map<string, UriEntry<T>[]>()
  readonly #root: TrieNode<T> = { children: new Map(), entries: undefined }
  #size = 0

  get size(): number {
    return this.#size
  }

  add(pattern: string, value: T, priority: number, order: number): void {
    this.#size++
    const star = pattern.indexOf('*')
    if (star < 0) {
      insertSorted(getOrCreate(this.#exact, pattern), { value, priority, pattern, order, glob: undefined })
      return
    }
    const prefix = pattern.slice(0, star)
    // `/a/*` and `/a*` need nothing past the prefix; `/a/*/c` is checked against the whole path
    const glob = star === pattern.length - 1 ? undefined : globOf(pattern)
    let node = this.#root
    for (let i = 0; i < prefix.length; i++) {
      const c = prefix.charCodeAt(i)
      let next = node.children.get(c)
      if (next === undefined) {
        next = { children: new Map(), entries: undefined }
        node.children.set(c, next)
      }
      node = next
    }
    node.entries ??= []
    insertSorted(node.entries, { value, priority, pattern, order, glob })
  }

  /** The first candidate, in radixtree's order, that `accept` takes; its glob already checked. */
  find(path: string, accept: (value: T) => boolean): T | undefined {
    const exact = this.#exact.get(path)
    if (exact !== undefined) {
      for (const entry of exact) if (accept(entry.value)) return entry.value
    }
    // walk down collecting the prefixes on the path, then try them longest first
    const found: UriEntry<T>[][] = []
    let node: TrieNode<T> | undefined = this.#root
    if (node.entries !== undefined) found.push(node.entries)
    for (let i = 0; i < path.length && node !== undefined; i++) {
      node = node.children.get(path.charCodeAt(i))
      if (node?.entries !== undefined) found.push(node.entries)
    }
    for (let k = found.length - 1; k >= 0; k--) {
      for (const entry of found[k]!) {
        if (!accept(entry.value)) continue
        if (entry.glob !== undefined && !entry.glob.test(path)) continue
        return entry.value
      }
    }
    return undefined
  }
}

/** priority descending, then longer pattern, then configuration order. */
function insertSorted<T>(list: UriEntry<T>[], entry: UriEntry<T>): void {
  let i = list.length
  while (i > 0 && before(entry, list[i - 1]!)) i--
  list.splice(i, 0, entry)
}

function before<T>(a: UriEntry<T>, b: UriEntry<T>): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority
  if (a.pattern.length !== b.pattern.length) return a.pattern.length > b.pattern.length
  return a.order < b.order
}

function globOf(pattern: string): RegExp {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('(.*)')
  return new RegExp(`^${source}$`)
}

function getOrCreate<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key)
  if (list === undefined) {
    list = []
    map.set(key, list)
  }
  return list
}
