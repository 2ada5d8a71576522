// etcd as the gateway's configuration source, in APISIX's layout (`<prefix>/<kind>/<id>`,
// the value the object's JSON), so one APISIX deployment's etcd drives these gateways too.
// One range read of the prefix loads everything; a watch from that read's revision plus one
// follows every change; each change (one key or a burst delivered together) becomes one
// configuration swap (etcd-apply.ts says what happens to a value that cannot load). A lost
// connection keeps the running configuration and the watch resumes from the revision after
// the last one seen; a compacted revision means a full reload.
import { Etcd3, type IKeyValue, type IOptions } from 'etcd3'
import { ErrorCode, ExtPluginError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { errorFields } from '../../logger.js'
import type { Kind } from '../store/types.js'
import { applyChange, toConfig, type Prepare, type Refusal } from './etcd-apply.js'
import { classifyKey, keyOf, parseEntry, rangeEnd, type EtcdEntry, type EtcdItem } from './etcd-keys.js'
import { backoffDelay, RangeWatch, type Backoff } from './etcd-watch.js'

export interface EtcdSourceOptions {
  /** etcd endpoints, e.g. `['http://127.0.0.1:2379']` (`https://` uses TLS). */
  readonly hosts: string | readonly string[]
  /** The key prefix APISIX uses (`deployment.etcd.prefix`). Default `/apisix`. */
  readonly prefix?: string
  /**
   * Milliseconds one etcd request (the range read, a write) may take, and how long a store
   * write waits for the local gateway to apply it. Default 5000. (APISIX's `timeout` is in seconds.)
   */
  readonly timeout?: number
  /** etcd user and password (`deployment.etcd.user` / `password`). */
  readonly auth?: { readonly username: string; readonly password: string }
  /** TLS material for `https://` hosts: the CA, and a client certificate and key for mutual TLS. */
  readonly tls?: { readonly ca: Buffer | string; readonly cert?: Buffer | string; readonly key?: Buffer | string }
  /** Reconnect and reload backoff, ms: doubling from `initial` (default 100) to `max` (default 5000), with jitter. */
  readonly backoff?: Partial<Backoff>
}

/** What the source needs of its gateway: a logger and the validate-compile step of a reload. */
export interface EtcdSourceHost {
  readonly logger: Logger
  readonly prepare: Prepare
}

/** `loading`: no configuration read yet; `reloading`: a full read is pending (compaction, retry). */
export type EtcdSourceState = 'loading' | 'watching' | 'reloading' | 'closed'

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>

/**
 * etcd3's default policies put a circuit breaker in front of each host (open for 5 s after
 * three failures) and retry every call three times: a reconnect after etcd comes back
 * would wait for the breaker. The source retries on its own backoff, so calls go straight through.
 */
function passthrough(): HostPolicy {
  const never = (): { dispose(): void } => ({ dispose() {} })
  const policy = {
    onSuccess: never,
    onFailure: never,
    execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> => fn({ signal: new AbortController().signal }),
  }
  return policy as unknown as HostPolicy
}

function toBuffer(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : value
}

export class EtcdSource {
  readonly client: Etcd3
  /** The prefix without a trailing slash. */
  readonly prefix: string
  readonly timeout: number
  readonly #host: EtcdSourceHost
  readonly #backoff: Backoff
  readonly #key: Buffer
  readonly #end: Buffer
  readonly #watch: RangeWatch
  #state: EtcdSourceState = 'loading'
  /** What etcd holds at every supported key. */
  #mirror = new Map<string, EtcdEntry>()
  /** What the running configuration was built from. */
  #good: ReadonlyMap<string, EtcdItem> = new Map()
  /** Keys whose current value (or deletion) is not in effect, already logged. */
  #refusals = new Map<string, Refusal & { readonly deleted: boolean }>()
  /** The highest revision this gateway has applied (or refused, key by key). */
  #applied = 0
  #waiters: Array<{ revision: number; done: (applied: boolean) => void }> = []
  #queue: Array<{ key: string; kv: IKeyValue; deleted: boolean }> = []
  #queuedRevision = 0
  #flushing: NodeJS.Immediate | undefined
  #reloadTimer: NodeJS.Timeout | undefined
  readonly #unsupported = new Set<string>()
  readonly #hosts: string

  constructor(options: EtcdSourceOptions, host: EtcdSourceHost) {
    this.#host = host
    this.prefix = (options.prefix ?? '/apisix').replace(/\/+$/, '')
    this.timeout = options.timeout ?? 5000
    this.#backoff = { initial: options.backoff?.initial ?? 100, max: options.backoff?.max ?? 5000 }
    const hosts = typeof options.hosts === 'string' ? [options.hosts] : [...options.hosts]
    this.#hosts = hosts.join(', ')
    this.client = new Etcd3({
      hosts,
      ...(options.auth === undefined ? {} : { auth: { username: options.auth.username, password: options.auth.password } }),
      ...(options.tls === undefined
        ? {}
        : {
            credentials: {
              rootCertificate: toBuffer(options.tls.ca),
              ...(options.tls.key === undefined ? {} : { privateKey: toBuffer(options.tls.key) }),
              ...(options.tls.cert === undefined ? {} : { certChain: toBuffer(options.tls.cert) }),
            },
          }),
      grpcOptions: {
        // A peer that vanishes without closing the connection is noticed within 15 s.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        // One range read carries the whole configuration: no 4 MiB cap on it.
        'grpc.max_receive_message_length': -1,
      },
      faultHandling: { host: () => passthrough(), global: passthrough() },
    })
    this.#key = Buffer.from(this.prefix + '/')
    this.#end = rangeEnd(this.#key)
    this.#watch = new RangeWatch(
      this.client,
      this.#key,
      this.#end,
      {
        events: (events, revision) => {
          for (const ev of events) this.#queue.push({ key: ev.kv.key.toString(), kv: ev.kv, deleted: ev.type === 'Delete' })
          this.#enqueue(revision)
        },
        progress: (revision) => this.#enqueue(revision),
        reload: (reason) => {
          this.#host.logger.warn({ prefix: this.prefix, revision: this.#applied }, `etcd: ${reason}; reloading ${this.prefix} in full`)
          this.#reload(0)
        },
      },
      this.#backoff,
      host.logger,
    )
  }

  get logger(): Logger {
    return this.#host.logger
  }

  get state(): EtcdSourceState {
    return this.#state
  }

  /** The highest revision the local gateway has applied. */
  get revision(): number {
    return this.#applied
  }

  /**
   * The initial load. Resolves once the configuration read is running; rejects (EXT_ERR_ETCD)
   * when that first read fails, while the source keeps retrying with backoff in the background.
   */
  async start(): Promise<void> {
    try {
      await this.#load()
    } catch (err) {
      if (this.#state === 'closed') return
      this.#state = 'reloading'
      this.#reload(1)
      throw new ExtPluginError(ErrorCode.ETCD, `etcd: cannot read ${this.prefix} from ${this.#hosts}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** The request options of one unary call (its deadline). */
  callOptions(): { deadline: number } {
    return { deadline: Date.now() + this.timeout }
  }

  keyOf(kind: Kind, id: string): string {
    return keyOf(this.prefix, kind, id)
  }

  /** What etcd holds at `key`, as last seen through the watch. */
  entry(key: string): EtcdEntry | undefined {
    return this.#mirror.get(key)
  }

  entries(): IterableIterator<EtcdEntry> {
    return this.#mirror.values()
  }

  /** The items the running configuration is built from. */
  get good(): ReadonlyMap<string, EtcdItem> {
    return this.#good
  }

  /** Why the value at `key` is not in effect, if it is not. */
  refusal(key: string): Refusal | undefined {
    return this.#refusals.get(key)
  }

  /** Resolves true once the gateway has applied `revision`, false after `ms` or on close. */
  waitFor(revision: number, ms: number = this.timeout): Promise<boolean> {
    if (this.#applied >= revision) return Promise.resolve(true)
    if (this.#state === 'closed') return Promise.resolve(false)
    return new Promise((resolve) => {
      const waiter = {
        revision,
        done: (applied: boolean) => {
          clearTimeout(timer)
          resolve(applied)
        },
      }
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        resolve(false)
      }, ms)
      this.#waiters.push(waiter)
    })
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    clearTimeout(this.#reloadTimer)
    if (this.#flushing !== undefined) clearImmediate(this.#flushing)
    this.#watch.close()
    for (const waiter of this.#waiters.splice(0)) waiter.done(false)
    this.client.close()
  }

  /** One range read of the prefix, applied as one change, then the watch from the revision after it. */
  async #load(): Promise<void> {
    const res = await this.client.kv.range({ key: this.#key, range_end: this.#end }, this.callOptions())
    if (this.#state === 'closed') return
    // Changes queued from a watch that was stopped are older than this read.
    this.#queue = []
    const mirror = new Map<string, EtcdEntry>()
    for (const kv of res.kvs) this.#ingest(mirror, kv.key.toString(), kv, false)
    this.#mirror = mirror
    const revision = Number(res.header.revision)
    this.#apply(revision)
    const first = this.#state === 'loading'
    this.#state = 'watching'
    this.#host.logger.info(
      { prefix: this.prefix, revision, keys: mirror.size },
      `etcd: ${first ? 'loaded' : 'reloaded'} ${this.#good.size} objects from ${this.prefix} at revision ${revision}`,
    )
    this.#watch.resume(revision + 1)
  }

  #reload(attempt: number): void {
    if (this.#state === 'closed') return
    this.#state = this.#state === 'loading' ? 'loading' : 'reloading'
    clearTimeout(this.#reloadTimer)
    const delay = attempt === 0 ? 0 : backoffDelay(this.#backoff, attempt - 1)
    this.#reloadTimer = setTimeout(() => {
      this.#load().catch((err: unknown) => {
        if (this.#state === 'closed') return
        this.#host.logger.warn(
          { prefix: this.prefix, ...errorFields(err) },
          `etcd: cannot read ${this.prefix} (${(err as Error).message}); keeping the running configuration, retrying`,
        )
        this.#reload(attempt + 1)
      })
    }, delay)
  }

  /** Changes delivered together (one response, or several in one turn) are applied as one. */
  #enqueue(revision: number): void {
    this.#queuedRevision = Math.max(this.#queuedRevision, revision)
    this.#flushing ??= setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushing = undefined
    if (this.#state === 'closed') return
    const queue = this.#queue
    this.#queue = []
    let changed = false
    for (const change of queue) changed = this.#ingest(this.#mirror, change.key, change.kv, change.deleted) || changed
    if (changed) this.#apply(this.#queuedRevision)
    else this.#advance(this.#queuedRevision)
  }

  /** Records one key's value (or deletion) in `mirror`; false when the key is not one this gateway loads. */
  #ingest(mirror: Map<string, EtcdEntry>, key: string, kv: IKeyValue, deleted: boolean): boolean {
    const kind = classifyKey(key, this.prefix)
    if (kind.type === 'unsupported') {
      if (!this.#unsupported.has(kind.kind)) {
        this.#unsupported.add(kind.kind)
        this.#host.logger.info({ key, kind: kind.kind }, `etcd: ${kind.kind} are not served by this gateway; ignoring ${this.prefix}/${kind.kind}/*`)
      }
      return false
    }
    if (kind.type === 'skip') return false
    if (deleted) mirror.delete(key)
    else mirror.set(key, parseEntry(key, kind.kind, kind.id, kv.value.toString(), Number(kv.create_revision), Number(kv.mod_revision)))
    return true
  }

  #apply(revision: number): void {
    try {
      const result = applyChange(this.#mirror, this.#good, this.#host.prepare, revision)
      this.#good = result.good
      const refusals = new Map<string, Refusal & { readonly deleted: boolean }>()
      for (const refusal of result.refusals) {
        const before = this.#refusals.get(refusal.key)
        const deleted = !this.#mirror.has(refusal.key)
        // A held-back deletion is retried on every change: logged once, under its first revision.
        const again = before !== undefined && (deleted ? before.deleted : before.modRevision === refusal.modRevision)
        if (!again) this.#logRefusal(refusal)
        refusals.set(refusal.key, { ...refusal, modRevision: again && deleted ? before.modRevision : refusal.modRevision, deleted })
      }
      this.#refusals = refusals
      this.#host.logger.debug({ prefix: this.prefix, revision, swapped: result.swapped }, `etcd: applied revision ${revision}`)
    } catch (err) {
      // Not a configuration error (those are refusals): the running configuration stays.
      this.#host.logger.error({ prefix: this.prefix, revision, ...errorFields(err) }, `etcd: applying revision ${revision} failed: ${(err as Error).message}`)
    }
    this.#advance(revision)
  }

  #logRefusal(refusal: Refusal): void {
    const reason = refusal.error instanceof Error ? refusal.error.message : String(refusal.error)
    const deleted = !this.#mirror.has(refusal.key)
    const outcome = refusal.kept
      ? `${deleted ? 'the deletion is not applied; ' : ''}its last good value stays in effect`
      : 'it is not loaded'
    this.#host.logger.error(
      { key: refusal.key, revision: refusal.modRevision, ...errorFields(refusal.error) },
      `etcd ${refusal.key}: ${reason}; ${outcome}`,
    )
  }

  #advance(revision: number): void {
    if (revision > this.#applied) this.#applied = revision
    if (this.#waiters.length === 0) return
    const ready = this.#waiters.filter((w) => w.revision <= this.#applied)
    this.#waiters = this.#waiters.filter((w) => w.revision > this.#applied)
    for (const waiter of ready) waiter.done(true)
  }
}

/** The standalone shape of what a source runs on (the Admin API's starting point for a write). */
export function runningConfig(source: EtcdSource): ReturnType<typeof toConfig>['config'] {
  return toConfig(source.good).config
}
