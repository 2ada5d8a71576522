// The runner's server: listen where APISIX says (protocol.md §8), serve every connection
// until it ends, close gracefully (in-flight calls finish) or destroy at once.
import { chmodSync, lstatSync, rmSync, unlinkSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { ErrorCode, ExtPluginError, RunnerStartError } from '../errors.js'
import { toLogger, type Logger } from '../logger.js'
import { ConfStore, describe } from './confs.js'
import { DEFAULT_CONNECTION_LIMITS, RunnerConnection, type ConnectionHost, type ConnectionLimits } from './connection.js'
import { CONF_EXPIRE_TIME_ENV, LISTEN_ADDRESS_ENV, checkConfExpireTime, confExpireTimeOf, socketPathOf } from './env.js'
import type { RunnerPlugin, RunnerPlugins } from './types.js'

export interface RunnerOptions {
  /** The plugins gateway confs may name: an array, or an object of them. */
  readonly plugins: RunnerPlugins
  /** console, pino, or anything with debug/info/warn/error. Silent by default. */
  readonly logger?: Partial<Logger> | undefined
  /**
   * Seconds the gateway keeps a conf token (APISIX_CONF_EXPIRE_TIME, else 3600). Confs are
   * kept 1.2 × this long after their last use, as the Go runner does.
   */
  readonly confExpireTime?: number | undefined
  /** Most confs kept at once (least recently used ones go first). Default 16384. */
  readonly maxConfs?: number | undefined
  /**
   * Most bytes of conf values kept at once (with the names, as they came on the wire;
   * least recently used go first). Default 64 MiB. A conf over the whole budget is not kept.
   */
  readonly maxConfBytes?: number | undefined
  /** ms a connection may send nothing while the runner waits for it; then it is closed. Default 240000. */
  readonly idleTimeout?: number | undefined
  /** Largest payload a frame header may announce; a larger one closes the connection at once. Default 16 MiB − 1. */
  readonly maxFrameSize?: number | undefined
  /** ms from a frame's first byte to its last; a frame that stalls is dropped with its connection. Default 10000. */
  readonly frameTimeout?: number | undefined
  /** Mode of the socket file. Default 0o766, as the Go runner: nginx workers must connect. */
  readonly socketMode?: number | undefined
  /**
   * A conf naming an unknown plugin, or one whose parseConf throws, fails the PrepareConf
   * (RPC error: the gateway answers 503) instead of being skipped with a log line, so a
   * broken auth conf cannot let requests through unchecked. Default false, as the Go runner.
   */
  readonly strict?: boolean | undefined
}

export interface RunnerStats {
  /** Open gateway connections. */
  readonly connections: number
  /** Request frames served since listen(). */
  readonly served: number
  /** Confs held. */
  readonly confs: number
}

/** A Plugin Runner: listens for the gateway, serves its calls with the plugins. */
export interface Runner {
  /**
   * Listens on `address` (`unix:/path`), by default APISIX_LISTEN_ADDRESS; reads
   * APISIX_CONF_EXPIRE_TIME unless confExpireTime was given. A socket file left at the path
   * is removed first; any other kind of file is an error. The socket is made 0766.
   */
  listen(address?: string): Promise<void>
  /**
   * Stops listening, lets in-flight calls finish and reply, ends every connection (idle
   * ones at once), removes the socket file. Waits for plugins still running: bound it
   * with a timer and destroy() if a plugin may hang.
   */
  close(): Promise<void>
  /** Drops every connection now (in-flight calls get no reply) and removes the socket file. */
  destroy(): void
  /** `unix:/path` while listening. */
  readonly address: string | undefined
  readonly stats: RunnerStats
}

/** How much longer than the gateway the runner keeps a conf (the Go runner's factor). */
const CONF_TTL_FACTOR = 1.2

class RunnerServer implements Runner, ConnectionHost {
  readonly plugins: ReadonlyMap<string, RunnerPlugin<unknown>>
  readonly logger: Logger
  readonly limits: ConnectionLimits
  readonly #options: RunnerOptions
  #confs: ConfStore | undefined
  #server: Server | undefined
  #path: string | undefined
  readonly #connections = new Set<RunnerConnection>()
  #closing: Promise<void> | undefined
  #served = 0

  constructor(options: RunnerOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('createRunner() needs options: { plugins }')
    this.#options = options
    this.plugins = pluginMap(options.plugins)
    this.logger = toLogger(options.logger)
    if (options.confExpireTime !== undefined) checkConfExpireTime(options.confExpireTime)
    for (const name of ['maxConfBytes', 'idleTimeout', 'maxFrameSize', 'frameTimeout'] as const) {
      const value = options[name]
      if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) throw invalid(`${name} must be a positive integer, got ${String(value)}`)
    }
    const d = DEFAULT_CONNECTION_LIMITS
    this.limits = {
      idleTimeout: options.idleTimeout ?? d.idleTimeout,
      maxFrameSize: Math.min(options.maxFrameSize ?? d.maxFrameSize, d.maxFrameSize),
      frameTimeout: options.frameTimeout ?? d.frameTimeout,
    }
  }

  get confs(): ConfStore {
    if (this.#confs === undefined) throw new ExtPluginError(ErrorCode.CLOSED, 'the runner is not listening')
    return this.#confs
  }

  get closing(): boolean {
    return this.#closing !== undefined
  }

  served(): void {
    this.#served++
  }

  get address(): string | undefined {
    return this.#path === undefined ? undefined : `unix:${this.#path}`
  }

  get stats(): RunnerStats {
    return { connections: this.#connections.size, served: this.#served, confs: this.#confs?.size ?? 0 }
  }

  async listen(address?: string): Promise<void> {
    if (this.#server !== undefined || this.#closing !== undefined) {
      throw new ExtPluginError(ErrorCode.INVALID_OPTIONS, 'the runner listens once; create another one')
    }
    const path =
      address === undefined
        ? socketPathOf(process.env[LISTEN_ADDRESS_ENV], LISTEN_ADDRESS_ENV)
        : socketPathOf(address, 'the listen address')
    const expire = this.#options.confExpireTime ?? confExpireTimeOf(process.env[CONF_EXPIRE_TIME_ENV])
    this.#confs = new ConfStore({ ttl: expire * CONF_TTL_FACTOR * 1000, max: this.#options.maxConfs ?? 16_384, maxBytes: this.#options.maxConfBytes ?? 64 * 1024 * 1024, strict: this.#options.strict === true })

    removeStaleSocket(path)
    // A gateway that ends its side is gone (APISIX never half-closes): the socket closes,
    // and a call in progress is abandoned at once.
    const server = createServer({ allowHalfOpen: false }, (socket) => this.#accept(socket))
    this.#server = server
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(path, () => {
          server.off('error', reject)
          resolve()
        })
      })
      chmodSync(path, this.#options.socketMode ?? 0o766)
    } catch (err) {
      this.#server = undefined
      server.close()
      throw new RunnerStartError(`failed to listen on unix:${path}: ${describe(err)}`, undefined, err)
    }
    this.#path = path
    server.on('error', (err) => this.logger.error({ err }, `server error: ${err.message}`))
    const names = [...this.plugins.keys()].join(', ')
    this.logger.info({ socket: path }, `listening on unix:${path} (conf expire time ${expire} s; plugins: ${names})`)
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const connection of this.#connections) connection.shutdown()
    await Promise.all([...this.#connections].map((c) => c.done))
    await closed
    this.#finish()
    this.logger.info({}, 'closed')
  }

  destroy(): void {
    this.#closing ??= Promise.resolve()
    this.#server?.close()
    for (const connection of this.#connections) connection.destroy()
    this.#finish()
  }

  #finish(): void {
    if (this.#path !== undefined) rmSync(this.#path, { force: true })
    this.#path = undefined
    this.#server = undefined
    this.#confs?.clear()
  }

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy()
      return
    }
    const connection = new RunnerConnection(socket, this)
    this.#connections.add(connection)
    this.logger.debug({}, 'gateway connected')
    void connection.done.then(() => {
      this.#connections.delete(connection)
      this.logger.debug({}, 'gateway disconnected')
    })
    connection.run().catch((err: unknown) => {
      // run() handles every call's failure itself; this is a bug, not a gateway problem.
      this.logger.error({}, `connection failed: ${describe(err)}`)
      connection.destroy()
    })
  }
}

/** Creates a runner; call `listen()` to serve. */
export function createRunner(options: RunnerOptions): Runner {
  return new RunnerServer(options)
}

function invalid(message: string): ExtPluginError {
  return new ExtPluginError(ErrorCode.INVALID_OPTIONS, message)
}

function pluginMap(plugins: RunnerPlugins | undefined): Map<string, RunnerPlugin<unknown>> {
  if (typeof plugins !== 'object' || plugins === null) throw invalid('createRunner() needs plugins: an array or an object of them')
  const list: unknown[] = Array.isArray(plugins) ? plugins : Object.values(plugins)
  const map = new Map<string, RunnerPlugin<unknown>>()
  for (const [i, plugin] of list.entries()) {
    if (typeof plugin !== 'object' || plugin === null) throw invalid(`plugin ${i} is not an object`)
    const p = plugin as Partial<RunnerPlugin<unknown>>
    if (typeof p.name !== 'string' || p.name === '') throw invalid(`plugin ${i} has no name`)
    for (const method of ['parseConf', 'requestFilter', 'responseFilter'] as const) {
      if (p[method] !== undefined && typeof p[method] !== 'function') throw invalid(`plugin ${p.name}: ${method} is not a function`)
    }
    if (map.has(p.name)) throw invalid(`two plugins are named ${p.name}`)
    map.set(p.name, p as RunnerPlugin<unknown>)
  }
  return map
}

function removeStaleSocket(path: string): void {
  let isSocket: boolean
  try {
    isSocket = lstatSync(path).isSocket()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new RunnerStartError(`cannot check unix:${path}: ${describe(err)}`, undefined, err)
  }
  if (!isSocket) throw new RunnerStartError(`unix:${path}: the path exists and is not a socket; not removing it`)
  unlinkSync(path)
}
