// The host level of radixtree_host_uri (apisix-config.md §2.2): exact hosts in a Map, and
// wildcard hosts (`*.foo.com`, `*foo.com`, `*`) by the suffix after the `*`. A request host
// tries its exact entry, then every suffix that has a wildcard entry, longest first.

export class HostIndex<T> {
  readonly #exact = new Map<string, T>()
  readonly #wildcard = new Map<string, T>()
  /** Lengths of the wildcard suffixes present, longest first: lookups try only these. */
  #lengths: number[] = []

  getOrAdd(host: string, create: () => T): T {
    const wildcard = host.startsWith('*')
    const map = wildcard ? this.#wildcard : this.#exact
    const key = wildcard ? host.slice(1) : host
    let value = map.get(key)
    if (value === undefined) {
      value = create()
      map.set(key, value)
      if (wildcard && !this.#lengths.includes(key.length)) this.#lengths = [...this.#lengths, key.length].sort((a, b) => b - a)
    }
    return value
  }

  /** Entries for `host` in lookup order: exact, then wildcards by longer suffix. */
  *candidates(host: string): Generator<T> {
    const exact = this.#exact.get(host)
    if (exact !== undefined) yield exact
    for (const length of this.#lengths) {
      // `*.foo.com` needs at least one character before `.foo.com`; `*` matches any host
      if (length >= host.length && length !== 0) continue
      const value = this.#wildcard.get(host.slice(host.length - length))
      if (value !== undefined) yield value
    }
  }
}
