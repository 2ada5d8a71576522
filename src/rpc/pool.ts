// Keep-alive connections to one runner socket, with APISIX's defaults (protocol.md §6): at
// most 32 idle connections, each dropped after 180 s unused. Unlike APISIX, connections
// in use are capped too (maxConnections): past the cap a call waits in a FIFO queue for
// a connection to come back, and that wait counts against its callTimeout. Without the cap
// every slow client held a runner connection of its own (200 slow clients, 200 sockets).
//
// A connection the runner closed, or that received bytes while idle, is never handed out:
// takeIdle() checks each one. The client additionally retries once, on a fresh connection,
// a call that died on a reused connection before the runner sent a byte (the runner may
// have closed it in the instant between our check and our write).
import { ErrorCode, ExtPluginError, RpcError } from '../errors.js'
import { connectUnix, RunnerConnection, type WriteQueue } from './connection.js'

export interface PoolOptions {
  /** Filesystem path of the runner's socket (no `unix:` prefix). */
  readonly path: string
  readonly connectTimeout: number
  readonly maxIdle: number
  readonly idleTimeout: number
  /** Connections open at once, idle or in use. */
  readonly maxConnections: number
  /** Bytes written to the runner and not yet taken by it, over all connections. */
  readonly maxQueuedBytes: number
}

export interface PoolStats {
  /** Connections opened since the pool was created. */
  readonly opened: number
  /** Connections open now, idle or in use. */
  readonly open: number
  readonly idle: number
  /** Calls waiting for a connection (maxConnections reached). */
  readonly waiting: number
}

/** A call waiting for a connection; only exists while the pool is at maxConnections. */
interface Waiter {
  readonly resolve: (connection: RunnerConnection | undefined) => void
  readonly reject: (err: ExtPluginError) => void
  readonly timer: NodeJS.Timeout
  readonly signal: AbortSignal | undefined
  readonly onAbort: (() => void) | undefined
  /** True to skip the idle list (the stale-connection retry). */
  readonly fresh: boolean
}

export class ConnectionPool {
  readonly #options: PoolOptions
  readonly #writeQueue: WriteQueue
  /** Most recently used last: reuse the warmest socket. */
  readonly #idle: RunnerConnection[] = []
  /** Connections that count against maxConnections (connecting ones are in #connecting). */
  readonly #open = new Set<RunnerConnection>()
  #connecting = 0
  readonly #waiters: Waiter[] = []
  #opened = 0
  /** Closes connections idle for longer than idleTimeout; runs only while some are idle. */
  #sweeper: NodeJS.Timeout | undefined

  constructor(options: PoolOptions) {
    this.#options = options
    this.#writeQueue = { queued: 0, max: options.maxQueuedBytes }
  }

  get stats(): PoolStats {
    return { opened: this.#opened, open: this.#open.size, idle: this.#idle.length, waiting: this.#waiters.length }
  }

  /** Bytes written to the runner that it has not taken yet. */
  get queuedBytes(): number {
    return this.#writeQueue.queued
  }

  /**
   * A connection for one call: an idle one, a new one, or (at maxConnections) the next one
   * released, waiting no later than `deadline` (performance.now() clock).
   */
  acquire(deadline: number, signal: AbortSignal | undefined, rpc: string, fresh = false): RunnerConnection | Promise<RunnerConnection> {
    if (!fresh) {
      const idle = this.takeIdle()
      if (idle !== undefined) return idle
    }
    if (this.#open.size + this.#connecting < this.#options.maxConnections || this.#waiters.length === 0 && this.#evictIdle()) {
      return this.#connect()
    }
    return new Promise<RunnerConnection | undefined>((resolve, reject) => {
      const onAbort = signal && ((): void => leave(new RpcError(ErrorCode.ABORTED, 'send', rpc, 'aborted')))
      const leave = (err: ExtPluginError): void => {
        const at = this.#waiters.indexOf(waiter)
        if (at >= 0) this.#waiters.splice(at, 1)
        signal?.removeEventListener('abort', onAbort!)
        reject(err)
      }
      const timer = setTimeout(() => {
        const reason = `timeout waiting for a runner connection (maxConnections ${this.#options.maxConnections})`
        leave(new RpcError(ErrorCode.TIMEOUT, 'send', rpc, reason))
      }, Math.max(1, Math.ceil(deadline - performance.now())))
      const waiter: Waiter = {
        resolve: (connection) => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort!)
          resolve(connection)
        },
        reject,
        timer,
        signal,
        onAbort,
        fresh,
      }
      this.#waiters.push(waiter)
      signal?.addEventListener('abort', onAbort!, { once: true })
    }).then((connection) => connection ?? this.#connect())
  }

  /** The most recently used idle connection that can still serve (no await on the hot path). */
  takeIdle(): RunnerConnection | undefined {
    for (;;) {
      const idle = this.#idle.pop()
      if (idle === undefined) return undefined
      if (idle.reusable) {
        idle.unpark()
        return idle
      }
      this.#forget(idle)
    }
  }

  async #connect(): Promise<RunnerConnection> {
    this.#connecting++
    let socket
    try {
      socket = await connectUnix(this.#options.path, this.#options.connectTimeout)
    } catch (err) {
      // the slot is free again: the next waiter tries for itself (and fails alike if the runner is gone)
      this.#connecting--
      this.#nextWaiter(true)?.resolve(undefined)
      throw err
    }
    this.#connecting--
    const connection = new RunnerConnection(socket, this.#writeQueue)
    this.#opened++
    this.#open.add(connection)
    connection.onClose = (closed) => this.#forget(closed)
    return connection
  }

  /** Back to a waiting call, or the idle list if it can serve again and there is room; otherwise closed. */
  release(connection: RunnerConnection): void {
    if (connection.reusable) {
      const waiter = this.#nextWaiter(false)
      if (waiter !== undefined) return waiter.resolve(connection)
      if (this.#idle.length < this.#options.maxIdle) {
        connection.park()
        connection.idleSince = performance.now()
        this.#idle.push(connection)
        this.#sweeper ??= setInterval(this.#sweep, Math.max(10, Math.min(this.#options.idleTimeout / 2, 1000))).unref()
        return
      }
    }
    connection.destroy()
    this.#forget(connection)
  }

  /** A connection stops counting (destroyed, or its socket closed); a waiter gets its slot. */
  #forget(connection: RunnerConnection): void {
    const at = this.#idle.indexOf(connection)
    if (at >= 0) this.#idle.splice(at, 1)
    if (!this.#open.delete(connection)) return
    if (!connection.closed) connection.destroy()
    this.#nextWaiter(true)?.resolve(undefined)
  }

  /** The first waiter, removed from the queue; `any` also takes those that want a fresh connection. */
  #nextWaiter(any: boolean): Waiter | undefined {
    const at = any ? 0 : this.#waiters.findIndex((w) => !w.fresh)
    if (at < 0 || at >= this.#waiters.length) return undefined
    return this.#waiters.splice(at, 1)[0]
  }

  /** At the cap with idle connections: close the oldest idle one to make room. */
  #evictIdle(): boolean {
    const oldest = this.#idle.shift()
    if (oldest === undefined) return false
    this.#forget(oldest)
    return true
  }

  /** The idle list is oldest first: close from the front while they are too old. */
  #sweep = (): void => {
    const cutoff = performance.now() - this.#options.idleTimeout
    while (this.#idle.length > 0 && this.#idle[0]!.idleSince <= cutoff) this.#forget(this.#idle[0]!)
    if (this.#idle.length === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
    }
  }

  /** Closes every connection, failing calls in flight and waiting with `reason`. */
  destroy(reason?: ExtPluginError): void {
    this.#idle.length = 0
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    const waiters = this.#waiters.splice(0)
    for (const waiter of waiters) {
      clearTimeout(waiter.timer)
      if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort)
      waiter.reject(reason ?? new ExtPluginError(ErrorCode.CLOSED, 'the runner client is closed'))
    }
    for (const connection of [...this.#open]) connection.destroy(reason)
  }
}
