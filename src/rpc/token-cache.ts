// Conf tokens by unique key `<conf_type>#<conf_id>#<plugin_name>#<conf_version>` (protocol.md
// §4.1). A new config version is a new key, hence a new PrepareConf. Concurrent misses for
// one key share a single PrepareConf (APISIX gets the same effect from its lock and shared
// dict). Failures are not cached. The whole cache is flushed when the runner exits or
// answers `conf token not found`.
import { LRUCache } from 'lru-cache'

export interface TokenCacheOptions {
  /** Entries kept at most (least recently used go first). */
  readonly max: number
  /** Milliseconds a token is trusted; APISIX uses the conf expire time, 3600 s. */
  readonly ttl: number
}

export class TokenCache {
  readonly #tokens: LRUCache<string, number>
  readonly #pending = new Map<string, Promise<number>>()
  /** Bumped on flush so that a PrepareConf started before it does not refill the cache. */
  #generation = 0

  constructor(options: TokenCacheOptions) {
    this.#tokens = new LRUCache<string, number>({ max: options.max, ttl: options.ttl, ttlAutopurge: false })
  }

  get size(): number {
    return this.#tokens.size
  }

  /** The cached token, if any (no PrepareConf). */
  peek(key: string): number | undefined {
    return this.#tokens.get(key)
  }

  /** The cached token, or the result of `prepare` (shared by concurrent callers). */
  get(key: string, prepare: () => Promise<number>): number | Promise<number> {
    const token = this.#tokens.get(key)
    if (token !== undefined) return token
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      const generation = this.#generation
      pending = prepare().then(
        (prepared) => {
          if (this.#pending.get(key) === pending) this.#pending.delete(key)
          if (generation === this.#generation) this.#tokens.set(key, prepared)
          return prepared
        },
        (err: unknown) => {
          if (this.#pending.get(key) === pending) this.#pending.delete(key)
          throw err
        },
      )
      this.#pending.set(key, pending)
    }
    return pending
  }

  flush(): void {
    this.#generation++
    this.#tokens.clear()
    this.#pending.clear()
  }
}
