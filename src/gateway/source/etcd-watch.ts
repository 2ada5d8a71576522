// The watch of one key range, driven on etcd3's raw Watch stream rather than its Watcher.
//
// Why not etcd3's Watcher (v1.1.2, lib/watch.js): it resumes from the header revision of
// the last response plus one, and it takes that revision from the create response too. A
// create response carries the store's current revision while the events being replayed
// from the start revision follow it, and a catching-up response carries the current
// revision with at most a batch of events, so a connection lost in between resumes past
// events never delivered. A compacted start revision comes back as a cancel with
// `compact_revision` set, which the Watcher turns into a generic `Watcher canceled:` error
// and drops the watcher, with nothing that says "reload". Here the next revision is the
// last event's mod_revision plus one (or a progress notification's revision plus one,
// which etcd only sends to a watcher that has caught up), and compaction is reported as such.
import type { Etcd3, IDuplexStream, IEvent, IWatchRequest, IWatchResponse } from 'etcd3'
import type { Logger } from '../../logger.js'
import { errorFields } from '../../logger.js'

export interface WatchHandlers {
  /** The events of one response, in revision order. */
  events(events: readonly IEvent[], revision: number): void
  /**
   * The watch cannot resume from where it stopped: etcd compacted past it (or now holds an
   * older history than the one seen). The caller reloads in full, then calls `resume()`.
   */
  reload(reason: string): void
  /** Every change up to `revision` has been delivered (a progress notification). */
  progress(revision: number): void
}

export interface Backoff {
  /** First delay after a failure, ms. */
  readonly initial: number
  /** Longest delay, ms. */
  readonly max: number
}

/** `idle`: not watching (before start, after a compaction); `waiting`: a reconnect is scheduled. */
export type WatchState = 'idle' | 'connecting' | 'watching' | 'waiting' | 'closed'

/** Delay before attempt `attempt` (0-based): doubling from `initial` up to `max`, with jitter so a fleet does not reconnect in step. */
export function backoffDelay(backoff: Backoff, attempt: number): number {
  const ceiling = Math.min(backoff.max, backoff.initial * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
}

export class RangeWatch {
  readonly #client: Etcd3
  readonly #key: Buffer
  readonly #end: Buffer
  readonly #handlers: WatchHandlers
  readonly #backoff: Backoff
  readonly #logger: Logger
  #state: WatchState = 'idle'
  #next = 0
  #stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined
  #timer: NodeJS.Timeout | undefined
  #attempt = 0
  /** Whether the current stream has had its create response (so a loss is worth a log line). */
  #created = false
  /** Set by a loss, cleared (with a log line) when a watch is created again. */
  #recovering = false

  constructor(client: Etcd3, key: Buffer, end: Buffer, handlers: WatchHandlers, backoff: Backoff, logger: Logger) {
    this.#client = client
    this.#key = key
    this.#end = end
    this.#handlers = handlers
    this.#backoff = backoff
    this.#logger = logger
  }

  get state(): WatchState {
    return this.#state
  }

  /** The revision the watch resumes from: the last one delivered plus one. */
  get next(): number {
    return this.#next
  }

  /** Watches from `revision` (a load's header revision plus one). */
  resume(revision: number): void {
    if (this.#state === 'closed') return
    this.#drop()
    this.#next = revision
    this.#attempt = 0
    void this.#connect()
  }

  close(): void {
    this.#state = 'closed'
    this.#drop()
  }

  #drop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const stream = this.#stream
    this.#stream = undefined
    if (stream !== undefined) hangUp(stream)
  }

  async #connect(): Promise<void> {
    this.#state = 'connecting'
    this.#created = false
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>
    try {
      stream = await this.#client.watchClient.watch()
    } catch (err) {
      this.#lost(undefined, err)
      return
    }
    if (this.#state !== 'connecting') {
      hangUp(stream)
      return
    }
    this.#stream = stream
    stream.on('data', (res) => this.#onData(stream, res))
    stream.on('error', (err) => this.#lost(stream, err))
    stream.on('end', () => this.#lost(stream, new Error('the watch stream ended')))
    stream.write({
      create_request: { key: this.#key, range_end: this.#end, start_revision: this.#next, progress_notify: true },
    })
  }

  #onData(stream: IDuplexStream<IWatchRequest, IWatchResponse>, res: IWatchResponse): void {
    if (stream !== this.#stream) return
    const compacted = Number(res.compact_revision)
    if (compacted > 0) {
      this.#stop(stream)
      this.#handlers.reload(`revision ${this.#next} was compacted (etcd keeps revisions from ${compacted})`)
      return
    }
    if (res.canceled) {
      this.#lost(stream, new Error(`etcd canceled the watch${res.cancel_reason === '' ? '' : `: ${res.cancel_reason}`}`))
      return
    }
    if (res.created) {
      this.#created = true
      this.#state = 'watching'
      this.#attempt = 0
      if (this.#recovering) {
        this.#recovering = false
        this.#logger.info({ revision: this.#next }, `etcd watch resumed from revision ${this.#next}`)
      }
      // A store whose current revision is below what was already seen lost history
      // (restored from an older backup): watching would wait for revisions that never come.
      const current = Number(res.header.revision)
      if (current + 1 < this.#next) {
        this.#stop(stream)
        this.#handlers.reload(`etcd is at revision ${current}, behind the ${this.#next - 1} already seen`)
      }
      return
    }
    if (res.events.length === 0) {
      const revision = Number(res.header.revision)
      if (revision >= this.#next) {
        this.#next = revision + 1
        this.#handlers.progress(revision)
      }
      return
    }
    const revision = Number(res.events[res.events.length - 1]!.kv.mod_revision)
    this.#next = revision + 1
    this.#handlers.events(res.events, revision)
  }

  #stop(stream: IDuplexStream<IWatchRequest, IWatchResponse>): void {
    if (this.#stream === stream) this.#stream = undefined
    hangUp(stream)
    this.#state = 'idle'
  }

  #lost(stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined, err: unknown): void {
    if (this.#state === 'closed' || (stream !== undefined && stream !== this.#stream)) return
    if (stream !== undefined) this.#stop(stream)
    this.#recovering = true
    const delay = backoffDelay(this.#backoff, this.#attempt++)
    const fields = { revision: this.#next, delay, ...errorFields(err) }
    const message = `etcd watch ${this.#created ? 'lost' : 'failed'} (${err instanceof Error ? err.message : String(err)}); keeping the running configuration, retrying from revision ${this.#next} in ${delay} ms`
    if (this.#created || this.#attempt === 1) this.#logger.warn(fields, message)
    else this.#logger.debug(fields, message)
    this.#state = 'waiting'
    this.#timer = setTimeout(() => void this.#connect(), delay)
  }
}

/**
 * Ends a stream this side gave up on. Half-closing first matters: etcd3 reports an error on a
 * still-writable watch stream as a failed host and closes every client of that host (the
 * KV calls' too), and the CANCELLED that cancel() raises would count as one.
 */
function hangUp(stream: IDuplexStream<IWatchRequest, IWatchResponse>): void {
  stream.end()
  stream.cancel()
}
