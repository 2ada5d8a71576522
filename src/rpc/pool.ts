// Keep-alive connections to one runner socket, with APISIX's defaults (protocol.md §6): at
// most 32 idle connections, each dropped after 180 s unused. There is no cap on
// connections in use, as in APISIX: each concurrent call gets its own.
//
// A connection the runner closed leaves the idle list the moment its `close` event fires,
// so it is never handed out; the client additionally retries once, on a fresh connection,
// a call that died on a reused connection before the runner sent a byte (the runner may
// have closed it in the instant between our check and our write).
import { connectUnix, RunnerConnection } from './connection.js'

export interface PoolOptions {
  /** Filesystem path of the runner's socket (no `unix:` prefix). */
  readonly path: string
  readonly connectTimeout: number
  readonly maxIdle: number
  readonly idleTimeout: number
}

export interface PoolStats {
  /** Connections opened since the pool was created. */
  readonly opened: number
  /** Connections open now, idle or in use. */
  readonly open: number
  readonly idle: number
}

export class ConnectionPool {
  readonly #options: PoolOptions
  /** Most recently used last: reuse the warmest socket. */
  readonly #idle: RunnerConnection[] = []
  readonly #open = new Set<RunnerConnection>()
  #opened = 0
  /** Closes connections idle for longer than idleTimeout; runs only while some are idle. */
  #sweeper: NodeJS.Timeout | undefined

  constructor(options: PoolOptions) {
    this.#options = options
  }

  get stats(): PoolStats {
    return { opened: this.#opened, open: this.#open.size, idle: this.#idle.length }
  }

  /** The most recently used idle connection, if any (no await on the hot path). */
  takeIdle(): RunnerConnection | undefined {
    const idle = this.#idle.pop()
    idle?.unpark()
    return idle
  }

  /** Always a new connection (used to retry on a fresh one). */
  async connect(): Promise<RunnerConnection> {
    const socket = await connectUnix(this.#options.path, this.#options.connectTimeout)
    const connection = new RunnerConnection(socket)
    this.#opened++
    this.#open.add(connection)
    connection.onClose = (closed) => {
      this.#open.delete(closed)
      const at = this.#idle.indexOf(closed)
      if (at >= 0) this.#idle.splice(at, 1)
    }
    return connection
  }

  /** Back to the idle list if it can serve again and there is room; otherwise closed. */
  release(connection: RunnerConnection): void {
    if (connection.reusable && this.#idle.length < this.#options.maxIdle) {
      connection.park()
      connection.idleSince = performance.now()
      this.#idle.push(connection)
      this.#sweeper ??= setInterval(this.#sweep, Math.max(10, Math.min(this.#options.idleTimeout / 2, 1000))).unref()
    } else {
      connection.destroy()
    }
  }

  /** The idle list is oldest first: close from the front while they are too old. */
  #sweep = (): void => {
    const cutoff = performance.now() - this.#options.idleTimeout
    while (this.#idle.length > 0 && this.#idle[0]!.idleSince <= cutoff) this.#idle.shift()!.destroy()
    if (this.#idle.length === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
    }
  }

  /** Closes every connection, failing calls in flight with `reason`. */
  destroy(reason?: Parameters<RunnerConnection['destroy']>[0]): void {
    this.#idle.length = 0
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    for (const connection of [...this.#open]) connection.destroy(reason)
  }
}
