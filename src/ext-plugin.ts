// createExtPlugin(): the object an application creates once. It owns the runner process
// (or the address of a runner started elsewhere), the client that talks to it, the plugins
// it knows, and the logger; routes made from it share all of these.
import { compileCheck } from './config/validate.js'
import { RunnerCounters, type ExtPluginStats } from './diagnostics/stats.js'
import type { NoPlugins, PluginConfs, RouteConfig } from './config/schemas.js'
import { Route } from './engine/route.js'
import { PluginRegistry } from './engine/registry.js'
import type { ConfType } from './engine/pipeline.js'
import { Gateway, type GatewayOptions, type GatewaySource } from './gateway/gateway.js'
import { runnerPlugins } from './engine/runner-plugins.js'
import type { AnyPlugin, PluginConfsOf } from './engine/plugin.js'
import type { VariableResolver } from './engine/variables.js'
import { ConfigError, ErrorCode, RunnerStartError } from './errors.js'
import { toLogger, type Logger } from './logger.js'
import { connectUnix } from './rpc/connection.js'
import { RunnerClient } from './rpc/client.js'
import { MAX_BODY_SIZE } from './rpc/extra-info.js'
import { RunnerProcess } from './runner/process.js'
import type { ManagedRunner } from './runner/managed.js'
import { SharedRunner } from './runner/shared.js'
import type { RunnerHealth, RunnerState } from './runner/health.js'

/** Start and manage the runner: APISIX's `ext-plugin.cmd`. */
export interface ManagedRunnerOptions {
  /** The runner's argv, run without a shell. */
  readonly cmd: readonly string[]
  /** Extra environment for the runner, on top of this process's own. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Milliseconds to wait for the runner to listen. Default 10000. */
  readonly startTimeout?: number
  /** Milliseconds between an exit and the respawn. Default 3000. */
  readonly respawnDelay?: number
  /** A runner that dies within a minute of its start doubles the next delay, up to this. Default 30000. */
  readonly maxRespawnDelay?: number
  /** Milliseconds between SIGTERM and SIGKILL on close. Default 1000. */
  readonly stopTimeout?: number
  /**
   * One runner for every process of this user running this `cmd` from this directory (the
   * workers of node:cluster or PM2): the first to start owns it, the others attach, and
   * another takes over when the owner goes away. Default false: a runner per process.
   */
  readonly shared?: boolean
}

/** `ext.health()`: the runner's state, for a readiness probe. */
export interface ExtPluginHealth extends RunnerHealth {
  /** Milliseconds since the last runner call that succeeded; undefined before the first. */
  readonly sinceLastSuccess: number | undefined
}

/** Use a runner started by hand: APISIX's `ext-plugin.path_for_test`. */
export interface ExternalRunnerOptions {
  /** The runner's socket: `/tmp/runner.sock` or `unix:/tmp/runner.sock`. */
  readonly socket: string
}

export interface ExtPluginOptions<Ps extends readonly AnyPlugin[] = readonly AnyPlugin[]> {
  readonly runner?: ManagedRunnerOptions | ExternalRunnerOptions
  /** In-process plugins, beside the three ext-plugin-* built-ins; routes are typed by them. */
  readonly plugins?: Ps
  /** `console`, a pino logger, or anything with debug/info/warn/error. Default: silent. */
  readonly logger?: Partial<Logger>
  /** Variables of your own for filters and the runner's Var questions; undefined falls back. */
  readonly variables?: VariableResolver
  /** Seconds a conf token lives; the runner is told the same. Default 3600. */
  readonly confExpireTime?: number
  /** Milliseconds to connect to the runner. Default 1000. */
  readonly connectTimeout?: number
  /** Milliseconds for one runner call, ExtraInfo rounds included. Default 60000. */
  readonly callTimeout?: number
  /** Idle runner connections kept. Default 32. */
  readonly maxIdleConnections?: number
  /** Milliseconds an idle runner connection is kept. Default 180000. */
  readonly idleTimeout?: number
  /** Conf tokens cached at most. Default 1024. */
  readonly tokenCacheSize?: number
  /** Largest request or response body held in memory for the runner, in bytes. Default 16 MiB − 1. */
  readonly maxBodySize?: number
  /** Runner connections open at once; more calls wait (within callTimeout). Default 64. */
  readonly maxConnections?: number
  /** Bytes written to the runner and not yet read by it, all connections. Default 32 MiB. */
  readonly maxQueuedBytes?: number
  /** ExtraInfo questions a runner may ask in one call. Default 128. */
  readonly maxExtraInfoRounds?: number
  /** Most header lines (or args) one runner answer may carry; more is a runner failure. Default 1000. */
  readonly maxHeaders?: number
}

const positiveInteger = { type: 'integer', minimum: 1 }
const checkOptions = compileCheck(
  {
    type: 'object',
    properties: {
      runner: {
        type: 'object',
        // one shape or the other, chosen by the key present, so errors name the right field
        if: { required: ['socket'] },
        then: {
          properties: { socket: { type: 'string', minLength: 1 } },
          additionalProperties: false,
        },
        else: {
          properties: {
            cmd: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            env: { type: 'object', additionalProperties: { type: 'string' } },
            startTimeout: positiveInteger,
            respawnDelay: { type: 'integer', minimum: 0 },
            maxRespawnDelay: { type: 'integer', minimum: 0 },
            stopTimeout: { type: 'integer', minimum: 0 },
            shared: { type: 'boolean' },
          },
          required: ['cmd'],
          additionalProperties: false,
        },
      },
      plugins: { type: 'array' },
      logger: { type: 'object' },
      variables: {},
      confExpireTime: positiveInteger,
      connectTimeout: positiveInteger,
      callTimeout: positiveInteger,
      maxIdleConnections: { type: 'integer', minimum: 0 },
      idleTimeout: positiveInteger,
      tokenCacheSize: positiveInteger,
      maxBodySize: { type: 'integer', minimum: 0 },
      maxConnections: positiveInteger,
      maxQueuedBytes: positiveInteger,
      maxExtraInfoRounds: positiveInteger,
      maxHeaders: positiveInteger,
    },
    additionalProperties: false,
  },
  'invalid createExtPlugin options: ',
  undefined,
  ErrorCode.INVALID_OPTIONS,
)

/** `P`: the in-process plugins' configuration types by name, which routes are checked against. */
export class ExtPlugin<P extends PluginConfs = NoPlugins> {
  readonly logger: Logger
  /** The runner client; undefined when no runner is configured. */
  readonly client: RunnerClient | undefined
  /** The managed runner (its own process, or a shared one); undefined for an external runner or none. */
  readonly process: ManagedRunner | undefined
  readonly maxBodySize: number
  readonly variables: VariableResolver | undefined
  readonly #registry = new PluginRegistry()
  readonly #socketPath: string | undefined
  readonly #connectTimeout: number
  /** Counted by the client and the ext-plugin-* plugins; read by stats(). */
  readonly #counters = new RunnerCounters()
  #closing: Promise<void> | undefined

  constructor(options: ExtPluginOptions = {}) {
    checkOptions(options)
    if (options.variables !== undefined && typeof options.variables !== 'function') {
      throw new ConfigError(ErrorCode.INVALID_OPTIONS, 'invalid createExtPlugin options: property "variables" validation failed: expected a function', '/variables')
    }
    this.logger = toLogger(options.logger)
    if (options.maxBodySize !== undefined && options.maxBodySize > MAX_BODY_SIZE) {
      // a larger body could be read but never sent: it would fail as 503 instead of 413
      throw new ConfigError(
        ErrorCode.INVALID_OPTIONS,
        `invalid createExtPlugin options: maxBodySize ${options.maxBodySize} is larger than one frame can carry (${MAX_BODY_SIZE} bytes: 16777215 minus the body answer's framing)`,
        '/maxBodySize',
      )
    }
    this.maxBodySize = options.maxBodySize ?? MAX_BODY_SIZE
    this.variables = options.variables
    this.#connectTimeout = options.connectTimeout ?? 1000
    const runner = options.runner
    if (runner !== undefined && 'cmd' in runner) {
      const { shared, ...managed } = runner
      const runnerOptions = {
        ...managed,
        confExpireTime: options.confExpireTime,
        logger: this.logger,
        // A new runner process knows none of the old tokens (APISIX flushes on its exit event).
        onExit: () => this.client?.flushTokens(),
      }
      this.process = shared === true ? new SharedRunner(runnerOptions) : new RunnerProcess(runnerOptions)
      this.#socketPath = this.process.socketPath
    } else if (runner !== undefined) {
      this.#socketPath = unixSocketPath(runner.socket)
    }
    this.client =
      this.#socketPath === undefined
        ? undefined
        : new RunnerClient({
            socketPath: this.#socketPath,
            connectTimeout: options.connectTimeout,
            callTimeout: options.callTimeout,
            maxIdleConnections: options.maxIdleConnections,
            idleTimeout: options.idleTimeout,
            confExpireTime: options.confExpireTime,
            tokenCacheSize: options.tokenCacheSize,
            maxConnections: options.maxConnections,
            maxQueuedBytes: options.maxQueuedBytes,
            maxExtraInfoRounds: options.maxExtraInfoRounds,
            logger: this.logger,
            counters: this.#counters,
          })
    for (const plugin of runnerPlugins({ client: this.client, logger: this.logger, limits: { maxHeaders: options.maxHeaders ?? 1000 }, counters: this.#counters })) this.#registry.register(plugin)
    for (const plugin of options.plugins ?? []) this.#registry.register(plugin)
  }

  /** Adds an in-process plugin; routes created afterwards may use it. */
  register<const T extends AnyPlugin>(plugin: T): ExtPlugin<P & PluginConfsOf<[T]>> {
    this.#registry.register(plugin)
    // the same object, typed to know the plugin: `const typed = ext.register(plugin)`
    return this as ExtPlugin<P & PluginConfsOf<[T]>>
  }

  /** Validates and compiles a route configuration (throws ConfigError naming the field). */
  route(config: RouteConfig<P>, confType?: ConfType): Route<P> {
    return new Route(this.#registry, config, this.logger, confType)
  }

  /** The registered plugins, for validating a gateway configuration against them. */
  get plugins(): PluginRegistry {
    return this.#registry
  }

  /**
   * A gateway over APISIX objects (routes, services, upstreams, …): from an apisix.yaml or
   * JSON file, or from a configuration object of the same shape. Mount it with the adapters'
   * `gateway()` / `withGateway()`.
   */
  gateway(source: GatewaySource, options?: GatewayOptions): Gateway {
    // a gateway's routes are checked at run time, whatever plugins the type knows
    return new Gateway(this as ExtPlugin<PluginConfs>, source, options)
  }

  /**
   * A snapshot of the runner calls' counters since creation and of the runner connections
   * now (README "Metrics"); `apisix-ext-plugin/prometheus` exposes the same at scrape time.
   */
  stats(): ExtPluginStats {
    const counted = this.#counters.snapshot()
    const client = this.client?.stats
    return {
      ...counted,
      tokenCache: { ...counted.tokenCache, size: client?.tokens ?? 0 },
      // a shared runner counts the restarts of whichever process owned it
      respawns: this.process?.respawns ?? 0,
      connections: {
        active: client === undefined ? 0 : client.open - client.idle,
        idle: client?.idle ?? 0,
        queued: client?.waiting ?? 0,
        opened: client?.opened ?? 0,
      },
      inFlight: client?.inFlight ?? 0,
    }
  }

  /**
   * The runner's state (starting, up, restarting, down), who supervises it, its pid,
   * restarts, last exit and recent output, and the time since the last successful call:
   * what a readiness probe wants (README "Health").
   */
  health(): ExtPluginHealth {
    const last = this.#counters.lastSuccess
    const sinceLastSuccess = last === undefined ? undefined : Math.round(performance.now() - last)
    if (this.process !== undefined) return { ...this.process.health(), sinceLastSuccess }
    return {
      // a runner started elsewhere: what the last call found (starting before any); none configured: down
      state: this.#socketPath === undefined ? 'down' : this.#externalState(),
      role: 'external',
      pid: undefined,
      restarts: 0,
      lastExit: undefined,
      output: [],
      socketPath: this.#socketPath ?? '',
      sinceLastSuccess,
    }
  }

  /** An external runner's state is what the last call found: up when it succeeded, down when it failed. */
  #externalState(): RunnerState {
    const { lastSuccess, lastFailure } = this.#counters
    if (lastSuccess === undefined && lastFailure === undefined) return 'starting'
    return (lastSuccess ?? -1) >= (lastFailure ?? -1) ? 'up' : 'down'
  }

  /** Resolves when the runner accepts connections (at once when there is no runner). */
  async ready(): Promise<void> {
    if (this.process !== undefined) return this.process.ready()
    if (this.#socketPath === undefined) return
    try {
      ;(await connectUnix(this.#socketPath, this.#connectTimeout)).destroy()
    } catch (err) {
      throw new RunnerStartError(`the runner at unix:${this.#socketPath} does not accept connections: ${(err as Error).message}`, undefined, err)
    }
  }

  /** Finishes the runner calls in flight, then stops the runner (SIGTERM, 1 s, SIGKILL). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.client?.close()
      await this.process?.close()
    })()
    return this.#closing
  }

  /** Stops everything now; runner calls in flight fail. */
  destroy(): void {
    this.#closing ??= Promise.resolve()
    this.client?.destroy()
    this.process?.destroy()
  }
}

/**
 * The path of `/tmp/r.sock` or `unix:/tmp/r.sock`. Runners speak only over Unix sockets
 * (protocol.md §8), so `tcp://…` or `http://…` is refused here rather than at the first
 * request, where it would be a confusing ENOENT.
 */
function unixSocketPath(socket: string): string {
  const path = socket.replace(/^unix:/, '')
  if (path === '' || /^[a-z][a-z0-9+.-]*:/i.test(path)) {
    throw new ConfigError(
      ErrorCode.INVALID_OPTIONS,
      `invalid createExtPlugin options: property "runner" validation failed: property "socket" must be a Unix socket path ` +
        `(/tmp/runner.sock or unix:/tmp/runner.sock), got ${JSON.stringify(socket)}: runners listen on Unix sockets only`,
      '/runner/socket',
    )
  }
  return path
}

export function createExtPlugin<const Ps extends readonly AnyPlugin[] = []>(options?: ExtPluginOptions<Ps>): ExtPlugin<PluginConfsOf<Ps>> {
  return new ExtPlugin(options)
}
