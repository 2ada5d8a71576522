// PrepareConf on the runner side (protocol.md §4.1): parse each named plugin's conf once,
// keep the list under a token, hand the same token back for the same key while it lives.
//
// As the Go runner: confs live 1.2 × APISIX_CONF_EXPIRE_TIME, so they outlive the
// gateway's copy of the token (3600 s); a lookup refreshes them; unknown plugin names and
// confs that fail to parse are logged and left out, and the PrepareConf still succeeds
// (unless `strict`: then the PrepareConf fails, and the gateway answers 503).
// Both caches are bounded (an evicted token is answered CONF_TOKEN_NOT_FOUND, and the
// gateway simply prepares again).
import { LRUCache } from 'lru-cache'
import type { Logger } from '../logger.js'
import { binaryToUtf8, type DecodedTextEntry, type PrepareConfRequest } from '../protocol/index.js'
import type { RunnerPlugin } from './types.js'

export interface PreparedPlugin {
  readonly plugin: RunnerPlugin<unknown>
  readonly conf: unknown
}

/** The plugins of one token, in conf order. */
export type PreparedConf = readonly PreparedPlugin[]

export interface ConfStoreOptions {
  /** How long a conf lives after its last use, in milliseconds. */
  readonly ttl: number
  /** Most confs kept at once. */
  readonly max: number
  /** Most conf bytes kept at once (names and values as on the wire, plus a per-entry overhead). */
  readonly maxBytes?: number
  /** Unknown plugins and confs that do not parse fail the PrepareConf instead of being skipped. */
  readonly strict?: boolean
}

const MAX_TOKEN = 0xff_ff_ff_ff

/** JSON, with an empty or blank value meaning "no conf" (undefined). */
export function defaultParseConf(value: string): unknown {
  return value.trim() === '' ? undefined : JSON.parse(value)
}

export class ConfStore {
  readonly #tokens: LRUCache<number, PreparedConf>
  readonly #keys: LRUCache<string, number>
  #lastToken = 0
  readonly #maxBytes: number | undefined
  readonly #strict: boolean

  constructor(options: ConfStoreOptions) {
    this.#strict = options.strict === true
    // Sized in bytes too: 24 000 confs of 16 KiB held 483 MB when only entries counted.
    this.#tokens = new LRUCache({
      max: options.max,
      ttl: options.ttl,
      updateAgeOnGet: true,
      ...(options.maxBytes === undefined ? {} : { maxSize: options.maxBytes }),
    })
    this.#maxBytes = options.maxBytes
    this.#keys = new LRUCache({ max: options.max, ttl: options.ttl, updateAgeOnGet: true })
  }

  /** Confs currently held (expired ones may still count until they are touched). */
  get size(): number {
    return this.#tokens.size
  }

  get(token: number): PreparedConf | undefined {
    return this.#tokens.get(token)
  }

  async prepare(
    request: PrepareConfRequest<DecodedTextEntry>,
    plugins: ReadonlyMap<string, RunnerPlugin<unknown>>,
    logger: Logger,
  ): Promise<number> {
    const key = request.key
    const known = this.#byKey(key)
    if (known !== undefined) return known

    const prepared: PreparedPlugin[] = []
    for (const entry of request.conf ?? []) {
      const name = binaryToUtf8(entry.name)
      const plugin = plugins.get(name)
      if (plugin === undefined) {
        if (this.#strict) throw new Error(`strict: can't find plugin ${name}; failing the PrepareConf`)
        logger.warn({ plugin: name }, `can't find plugin ${name}, skip`)
        continue
      }
      const value = binaryToUtf8(entry.value ?? '')
      try {
        const conf = plugin.parseConf ? await plugin.parseConf(value) : defaultParseConf(value)
        prepared.push({ plugin, conf })
      } catch (err) {
        // The value itself is not logged: confs carry secrets.
        if (this.#strict) throw new Error(`strict: failed to parse the configuration of plugin ${name}: ${secretFree(err)}`)
        logger.error({ plugin: name }, `failed to parse the configuration of plugin ${name}, skip it: ${describe(err)}`)
      }
    }

    // Another connection may have prepared the same key while parseConf was awaited.
    const raced = this.#byKey(key)
    if (raced !== undefined) return raced
    const token = this.#nextToken()
    const size = confBytes(request)
    if (this.#maxBytes !== undefined && size > this.#maxBytes) {
      // Not kept: the gateway's call gets CONF_TOKEN_NOT_FOUND and it fails after its retries.
      logger.warn({ size }, `a conf of ${size} bytes is larger than maxConfBytes ${this.#maxBytes}: not kept`)
    }
    this.#tokens.set(token, prepared, { size })
    if (typeof key === 'string' && key !== '') this.#keys.set(key, token)
    return token
  }

  #byKey(key: string | Uint8Array | undefined): number | undefined {
    if (typeof key !== 'string' || key === '') return undefined
    const token = this.#keys.get(key)
    // Refresh the conf too: the gateway will use this token for another full period.
    return token !== undefined && this.#tokens.get(token) !== undefined ? token : undefined
  }

  #nextToken(): number {
    // 1, 2, … as the Go runner; 0 is skipped after a wrap (a missing field reads as 0).
    this.#lastToken = this.#lastToken >= MAX_TOKEN ? 1 : this.#lastToken + 1
    return this.#lastToken
  }

  clear(): void {
    this.#tokens.clear()
    this.#keys.clear()
  }
}

/** JSON.parse's messages quote the text they failed on: a conf, which may hold secrets. */
function secretFree(err: unknown): string {
  return err instanceof SyntaxError ? 'not valid JSON' : describe(err)
}

/** What a conf counts against maxConfBytes: its text on the wire and a fixed overhead. */
const CONF_OVERHEAD = 256

function confBytes(request: PrepareConfRequest<DecodedTextEntry>): number {
  let bytes = CONF_OVERHEAD
  for (const entry of request.conf ?? []) bytes += entry.name.length + (entry.value?.length ?? 0)
  return bytes
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
