// The gateway: one validated APISIX configuration compiled into what requests run on (a
// router, each route's merged plugins as an engine Route, global rules, upstreams with their
// pools), swapped whole on every change. A request reads `gateway.state` once and finishes
// on that state, so a reload never mixes two configurations inside one request.
import { errorFields } from '../logger.js'
import { readFileSync } from 'node:fs'
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { ConfigError, ErrorCode } from '../errors.js'
import type { Route } from '../engine/route.js'
import type { ExtPlugin } from '../ext-plugin.js'
import type { ConfigSnapshot } from './config/types.js'
import { validateConfig, type ValidateOptions } from './config/validate.js'
import { globalPlugins, mergeRoute, stableStringify, type MergedRoute } from './merge.js'
import { createRouter, type Router } from './router/router.js'
import { parseConfigText, watchConfig, type ConfigWatcher, type WatchResult } from './source/file.js'
import type { Prepared } from './source/etcd-apply.js'
import { EtcdSource, type EtcdSourceOptions } from './source/etcd.js'
import { EtcdStore } from './store/etcd.js'
import { keyAuthPlugin } from './plugins/key-auth.js'
import { Upstream } from './upstream/upstream.js'
import type { Exchange } from '../engine/exchange.js'
import { createAdminHandler } from './admin/handler.js'
import { adminKeys, type AdminApiOptions, type ListenAdminOptions } from './admin/options.js'
import { parseConfigObject } from './source/file.js'
import { formatOf } from './store/file.js'
import { MemoryStore } from './store/memory.js'
import type { ConfigStore, RawConfig } from './store/types.js'

/** The state each request runs on, for in-process plugins that read it (key-auth's consumers). */
const requestStates = new WeakMap<Exchange, GatewayState>()

/** Binds a request to the state it runs on (the gateway's request handler calls it). */
export function bindRequest(exchange: Exchange, state: GatewayState): void {
  requestStates.set(exchange, state)
}

/** A path to an apisix.yaml / JSON file, or a configuration object of the same shape. */
export type GatewaySource = string | Readonly<Record<string, unknown>> | EtcdGatewaySource

/** etcd in APISIX's layout: `{ etcd: { hosts: ['http://127.0.0.1:2379'], prefix: '/apisix' } }`. */
export interface EtcdGatewaySource {
  readonly etcd: EtcdSourceOptions
}

function etcdOptions(source: GatewaySource): EtcdSourceOptions | undefined {
  if (typeof source !== 'object' || source === null || !('etcd' in source)) return undefined
  const etcd = (source as { etcd?: unknown }).etcd
  if (Object.keys(source).length !== 1 || typeof etcd !== 'object' || etcd === null) {
    throw new ConfigError(ErrorCode.INVALID_CONFIG, 'an etcd source is `{ etcd: { hosts, prefix?, timeout?, auth?, tls? } }`', 'etcd')
  }
  const hosts = (etcd as { hosts?: unknown }).hosts
  if (!(typeof hosts === 'string' || (Array.isArray(hosts) && hosts.length > 0 && hosts.every((h) => typeof h === 'string')))) {
    throw new ConfigError(ErrorCode.INVALID_CONFIG, 'etcd.hosts must be a URL or a non-empty list of URLs', 'etcd.hosts')
  }
  return etcd as EtcdSourceOptions
}

export interface GatewayOptions {
  /** Re-read the file when it changes (debounced), validate it whole, swap it in. */
  readonly watch?: boolean
  /** Milliseconds a burst of file changes is collapsed into one reload. Default 100. */
  readonly debounce?: number
  /** `error` (default): a plugin nobody registered fails the config; `ignore`: warn once, skip it. */
  readonly unknownPlugins?: 'error' | 'ignore'
  /**
   * Admin API writes also replace the source file (a temporary file, then a rename), in its
   * format (YAML with `#END`, or JSON), before they are acknowledged: they survive a restart.
   * File sources only. Default false: writes live in memory.
   */
  readonly writeThrough?: boolean
}

/** One route of a state: its merged configuration, its compiled plugins, its upstream. */
export interface GatewayRoute {
  readonly merged: MergedRoute
  readonly route: Route
  /** Undefined: the application plays the upstream (`next()` / the fallback). */
  readonly upstream: Upstream | undefined
}

export interface GatewayState {
  readonly snapshot: ConfigSnapshot
  readonly router: Router
  readonly routes: ReadonlyMap<string, GatewayRoute>
  /** Each global rule as its own Route (tokens keyed `global_rule#<id>#…`), in file order. */
  readonly globalRules: readonly Route[]
  /** Upstreams by the fingerprint of their configuration, so a reload keeps unchanged pools. */
  readonly upstreams: ReadonlyMap<string, Upstream>
}

export class Gateway {
  readonly #ext: ExtPlugin
  readonly #file: string | undefined
  readonly #options: GatewayOptions
  readonly #warned = new Set<string>()
  #state: GatewayState
  #watcher: ConfigWatcher | undefined
  /** Requests running per state; a state absent from the map has none. */
  readonly #inFlight = new Map<GatewayState, number>()
  #closed = false
  /** The etcd source, when the configuration lives in etcd. */
  #etcd: EtcdSource | undefined
  /** Settles after the initial load (at once for a file or an object). */
  #ready: Promise<void> = Promise.resolve()
  /** Where the Admin API writes (an etcd source assigns its own); created on first use otherwise. */
  #store: ConfigStore | undefined
  /** The last configuration object given (constructor or update()), in the standalone shape; undefined: the file's. */
  #raw: RawConfig | undefined

  constructor(ext: ExtPlugin, source: GatewaySource, options: GatewayOptions = {}) {
    this.#ext = ext
    this.#options = options
    this.#file = typeof source === 'string' ? source : undefined
    this.#raw = typeof source === 'string' ? undefined : (source as RawConfig)
    // key-auth identifies consumers from the configuration the request runs on; an
    // application may register its own auth plugin under that name instead.
    if (ext.plugins.get('key-auth') === undefined) {
      ext.register(keyAuthPlugin({ snapshotOf: (exchange) => requestStates.get(exchange)?.snapshot }))
    }
    const etcd = etcdOptions(source)
    // An etcd gateway starts empty (every request 404) and fills in when the first read lands.
    const initial = etcd !== undefined ? this.#validate({}) : typeof source === 'string' ? this.#readFile(source) : this.#validate(source)
    this.#state = this.#build(initial, undefined)
    if (etcd !== undefined) {
      this.#etcd = new EtcdSource(etcd, { logger: ext.logger, prepare: (config) => this.#prepare(config) })
      this.#store = new EtcdStore(this.#etcd)
      this.#ready = this.#etcd.start()
      // ready() hands the failure to whoever asks; unasked, it is only logged by the source's retries
      this.#ready.catch(() => {})
    }
    if (options.watch === true && this.#file !== undefined) {
      this.#watcher = watchConfig(this.#file, (result) => this.#onFileChange(result), { ...this.#validation(), debounce: options.debounce })
    }
  }

  /**
   * Resolves once the initial configuration is running: at once for a file or an object;
   * for etcd after the first range read. With etcd unreachable it rejects (EXT_ERR_ETCD)
   * while the gateway keeps retrying in the background, serving 404 until the read succeeds.
   */
  ready(): Promise<void> {
    return this.#ready
  }

  /** What new requests run on. */
  get state(): GatewayState {
    return this.#state
  }

  /**
   * The state a request runs on, held until release(): a replaced state's upstream pools
   * close only once the last request that started on it is done.
   */
  acquire(): GatewayState {
    const state = this.#state
    this.#inFlight.set(state, (this.#inFlight.get(state) ?? 0) + 1)
    return state
  }

  release(state: GatewayState): void {
    const left = (this.#inFlight.get(state) ?? 1) - 1
    if (left > 0) {
      this.#inFlight.set(state, left)
      return
    }
    this.#inFlight.delete(state)
    if (state !== this.#state) this.#retire(state)
  }

  get ext(): ExtPlugin {
    return this.#ext
  }

  /** Validates `config` whole and swaps it in; on error (a ConfigError naming the field) nothing changes. */
  update(config: Readonly<Record<string, unknown>>): void {
    this.#swap(this.#build(this.#validate(config), this.#state))
    this.#raw = config as RawConfig
  }

  /**
   * Validates and compiles `config` whole as update() would, without swapping it in: throws
   * the ConfigError update() would throw. The Admin API checks every write with it.
   */
  check(config: Readonly<Record<string, unknown>>): void {
    // the compiled state is dropped; pools it opened that the running state does not share close
    this.#retire(this.#build(this.#validate(config), this.#state))
  }

  /**
   * The store the Admin API writes to: for a file or object source, memory (and with
   * `writeThrough`, the file too); writes apply to this gateway before they are acknowledged.
   */
  get store(): ConfigStore {
    if (this.#store === undefined) {
      const file = this.#file
      if (this.#options.writeThrough === true && file === undefined) {
        throw new ConfigError(ErrorCode.INVALID_CONFIG, 'writeThrough needs a file source: there is no file to write to', 'writeThrough')
      }
      const writeThrough = this.#options.writeThrough === true && file !== undefined ? { file, format: formatOf(file, this.#fileText(file)) } : undefined
      this.#store = new MemoryStore({ current: () => this.#currentRaw(), apply: (candidate) => this.update(candidate), writeThrough })
    }
    return this.#store
  }

  /** The Admin API (apisix-config.md §8) as a request listener to mount; throws a ConfigError without a key. */
  adminApi(options: AdminApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
    const keys = adminKeys(options)
    void this.store
    const plugins = this.#ext.plugins
    return createAdminHandler(
      {
        store: () => this.store,
        check: (candidate) => this.check(candidate),
        plugins: {
          names: () => plugins.names(),
          schema: (name, side) => {
            const plugin = plugins.get(name)?.plugin as { schema?: object; consumerSchema?: object } | undefined
            if (plugin === undefined) return undefined
            return (side === 'consumer' ? plugin.consumerSchema : plugin.schema) ?? {}
          },
        },
        logger: this.#ext.logger,
      },
      keys,
    )
  }

  /**
   * The Admin API on its own listener, started: 127.0.0.1:9180 unless told otherwise. Throws a
   * ConfigError (before listening) without a key. Close it with `server.close()`.
   */
  listenAdmin(options: ListenAdminOptions): Promise<Server> {
    const server = http.createServer(this.adminApi(options))
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 9180, options.host ?? '127.0.0.1', () => {
        server.off('error', reject)
        resolve(server)
      })
    })
  }

  /** Re-reads the file; rejects (and keeps the running configuration) when it is invalid. */
  async reload(): Promise<void> {
    if (this.#file === undefined) return
    this.#swap(this.#build(this.#readFile(this.#file), this.#state))
  }

  /** Stops watching and closes every upstream pool (requests in flight finish first). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#watcher?.close()
    await this.#etcd?.close()
    await Promise.all([...this.#state.upstreams.values()].map((u) => u.close()))
  }

  #currentRaw(): RawConfig {
    if (this.#raw === undefined && this.#file !== undefined) this.#raw = parseConfigObject(this.#fileText(this.#file), this.#file) as RawConfig
    return this.#raw ?? {}
  }

  #fileText(path: string): string {
    try {
      return readFileSync(path, 'utf8')
    } catch (err) {
      throw new ConfigError(ErrorCode.INVALID_CONFIG, `cannot read ${path}: ${(err as Error).message}`, '')
    }
  }

  /** A candidate for the etcd source: validated and compiled now, swapped in by commit(). */
  #prepare(config: RawConfig): Prepared {
    const state = this.#build(this.#validate(config), this.#state)
    return {
      commit: () => (this.#closed ? this.#retire(state) : this.#swap(state)),
      discard: () => this.#retire(state),
    }
  }

  #validation(): ValidateOptions {
    return { plugins: this.#ext.plugins, unknownPlugins: this.#options.unknownPlugins ?? 'error', logger: this.#ext.logger, warned: this.#warned }
  }

  #readFile(path: string): ConfigSnapshot {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      throw new ConfigError(ErrorCode.INVALID_CONFIG, `cannot read ${path}: ${(err as Error).message}`, '')
    }
    return parseConfigText(text, path, this.#validation())
  }

  #validate(input: unknown): ConfigSnapshot {
    return validateConfig(input, this.#validation())
  }

  /** Compiles a validated snapshot; plugin conf errors (checked while compiling) name their object. */
  #build(snapshot: ConfigSnapshot, previous: GatewayState | undefined): GatewayState {
    const where = this.#file === undefined ? '' : `${this.#file}: `
    const upstreams = new Map<string, Upstream>()
    const upstreamFor = (conf: MergedRoute['upstream']): Upstream | undefined => {
      if (conf === undefined) return undefined
      const key = stableStringify(conf)
      let upstream = upstreams.get(key) ?? previous?.upstreams.get(key)
      if (upstream === undefined || upstream.closed) upstream = new Upstream(conf as ConstructorParameters<typeof Upstream>[0])
      upstreams.set(key, upstream)
      return upstream
    }
    const routes = new Map<string, GatewayRoute>()
    for (const config of snapshot.routes) {
      const merged = mergeRoute(snapshot, config)
      // Compiling checks each plugin's conf against its schema: a failure names the route.
      let route: Route
      try {
        route = this.#ext.route({ id: merged.id, name: merged.name, plugins: merged.pluginsConfig })
      } catch (err) {
        if (err instanceof ConfigError) err.message = `${where}route ${merged.id}: ${err.message}`
        throw err
      }
      routes.set(merged.id, { merged, route, upstream: upstreamFor(merged.upstream) })
    }
    const globalRules = globalPlugins(snapshot).rules.map((rule) => {
      try {
        return this.#ext.route({ id: rule.id, plugins: rule.pluginsConfig }, 'global_rule')
      } catch (err) {
        if (err instanceof ConfigError) err.message = `${where}global rule ${rule.id}: ${err.message}`
        throw err
      }
    })
    return { snapshot, router: createRouter(snapshot, { logger: this.#ext.logger }), routes, globalRules, upstreams }
  }

  #swap(next: GatewayState): void {
    const previous = this.#state
    this.#state = next
    if (!this.#inFlight.has(previous)) this.#retire(previous)
  }

  /** Closes the pools of a replaced state that the current state does not share. */
  #retire(state: GatewayState): void {
    const current = this.#state
    for (const [key, upstream] of state.upstreams) {
      if (current.upstreams.get(key) !== upstream) void upstream.close()
    }
  }

  #onFileChange(result: WatchResult): void {
    if (this.#closed) return
    try {
      if (result.error !== undefined) throw result.error
      this.#swap(this.#build(result.snapshot, this.#state))
      this.#ext.logger.info({ file: this.#file }, `reloaded ${this.#file}`)
    } catch (err) {
      // The running configuration stays: a half-written or invalid file loses nothing.
      this.#ext.logger.error({ file: this.#file, ...errorFields(err) }, `${err instanceof Error ? err.message : String(err)}; keeping the running configuration`)
    }
  }
}
