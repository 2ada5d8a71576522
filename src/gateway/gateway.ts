// The gateway: one validated APISIX configuration compiled into what requests run on (a
// router, each route's merged plugins as an engine Route, global rules, upstreams with their
// pools), swapped whole on every change. A request reads `gateway.state` once and finishes
// on that state, so a reload never mixes two configurations inside one request.
import { errorFields } from '../logger.js'
import { publishConfigReload } from '../diagnostics/config-reload.js'
import { readFileSync, statSync } from 'node:fs'
import http, { type Server } from 'node:http'
import { ConfigError, ErrorCode } from '../errors.js'
import { compilePipeline, type ConfType, type Pipeline, type PluginInstance } from '../engine/pipeline.js'
import { contentHash } from '../engine/runner-plugins.js'
import type { ExtPlugin } from '../ext-plugin.js'
import type { ConfigSnapshot } from './config/types.js'
import { validateConfig, type ValidateOptions } from './config/validate.js'
import { AUTH_PLUGINS, globalPlugins, mergeConsumer, mergeRoute, stableStringify, type MergedRoute, type PhaseOrder } from './merge.js'
import { globalPhases, planRoute, planUnmatched, type ConsumerRun } from './plan.js'
import { createRouter, type Router } from './router/router.js'
import { parseConfigText, watchConfig, type ConfigWatcher, type WatchResult } from './source/file.js'
import type { Prepared } from './source/etcd-apply.js'
import { EtcdSource, type EtcdSourceOptions } from './source/etcd.js'
import { EtcdStore } from './store/etcd.js'
import { consumerOf, keyAuthPlugin } from './plugins/key-auth.js'
import type { ConsumerConfig, PluginMap } from './config/types.js'
import { Upstream } from './upstream/upstream.js'
import type { Exchange } from '../engine/exchange.js'
import { createAdminHandler, type AdminHandler } from './admin/handler.js'
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
   * How the global rules' phases interleave with the route's (apisix-config.md §4).
   * `apisix-3.17` (default, APISIX 3.17 and later): global rewrite → route rewrite → consumer
   * merge → global access → route access. `legacy` (older APISIX, and its docs): global
   * rewrite → global access → route rewrite → consumer merge → route access. Response phase:
   * global, then route, in both.
   */
  readonly phaseOrder?: PhaseOrder
  /**
   * The `Server` header of proxied responses and of the gateway's own error pages: APISIX
   * replaces the upstream's with `APISIX/<version>` (`APISIX` with `enable_server_tokens:
   * false`). Default `'APISIX'`; `false` passes the upstream's on.
   */
  readonly serverHeader?: string | false
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
  /** The route's own merged plugins (service, plugin config, route); tokens keyed `route#<id>#…`. */
  readonly own: Pipeline
  /** What a matched request runs: the global rules' and the route's stages in phase order, the consumer branch. */
  readonly pipeline: Pipeline
  /** Undefined: the application plays the upstream (`next()` / the fallback). */
  readonly upstream: Upstream | undefined
}

export interface GatewayState {
  readonly snapshot: ConfigSnapshot
  readonly router: Router
  readonly routes: ReadonlyMap<string, GatewayRoute>
  /** Each global rule compiled on its own (tokens keyed `global_rule#<id>#…`), in file order. */
  readonly globalRules: readonly Pipeline[]
  /** Upstreams by the fingerprint of their configuration, so a reload keeps unchanged pools. */
  readonly upstreams: ReadonlyMap<string, Upstream>
  /** The `Server` header proxied responses get; undefined: the upstream's. */
  readonly serverHeader: string | undefined
  /** The global rules' rewrite and access phases, for a request no route matched (before its 404). */
  readonly unmatched: Pipeline
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
  /** The file's mtime and size when #raw was read from it: a watched file edited since is read again. */
  #rawStamp: string | undefined

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
    this.#apply('update', () => this.#build(this.#validate(config), this.#state))
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
      this.#store = new MemoryStore({
        current: () => this.#currentRaw(),
        apply: (candidate) => this.update(candidate),
        writeThrough,
        // what the store wrote is what memory runs: the watcher need not (and must not) reload it
        written: file === undefined ? undefined : () => (this.#rawStamp = fileStamp(file)),
      })
    }
    return this.#store
  }

  /**
   * The Admin API (apisix-config.md §8) as a request listener, or an Express/connect
   * middleware (other paths go to `next`); throws a ConfigError without a key.
   */
  adminApi(options: AdminApiOptions): AdminHandler {
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
    // a client that trickles its headers or body does not hold a socket for Node's default 5 minutes
    const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, this.adminApi(options))
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
    const file = this.#file
    if (file === undefined) return
    this.#apply('reload', () => this.#build(this.#readFile(file), this.#state))
  }

  /** Stops watching and closes every upstream pool (requests in flight finish first). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#watcher?.close()
    await this.#etcd?.close()
    await Promise.all([...this.#state.upstreams.values()].map((u) => u.close()))
  }

  /**
   * The configuration the Admin API builds on. A watched file is the truth (the gateway
   * follows it), so an edit made to it since is read again before the next write; an
   * unwatched one is read once, and memory holds the writes.
   */
  #currentRaw(): RawConfig {
    const file = this.#file
    if (file !== undefined && (this.#raw === undefined || this.#options.watch === true)) {
      const stamp = fileStamp(file)
      if (this.#raw === undefined || stamp !== this.#rawStamp) {
        try {
          this.#raw = parseConfigObject(this.#fileText(file), file) as RawConfig
          this.#rawStamp = stamp
        } catch (err) {
          // a half-written file: the watcher keeps the running configuration, and so does this
          if (this.#raw === undefined) throw err
        }
      }
    }
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
    let state: GatewayState
    try {
      state = this.#build(this.#validate(config), this.#state)
    } catch (err) {
      publishConfigReload('etcd', this.#state.routes.size, err)
      throw err
    }
    return {
      commit: () => (this.#closed ? this.#retire(state) : this.#apply('etcd', () => state)),
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
    // A route's own `timeout` wins over its upstream's (§5.3); undici fixes timeouts per pool,
    // so such a route gets pools of its own (the key differs only when the timeout does).
    const upstreamFor = (upstreamConf: MergedRoute['upstream'], timeout: MergedRoute['timeout']): Upstream | undefined => {
      if (upstreamConf === undefined) return undefined
      const conf = timeout === undefined || timeout === upstreamConf.timeout ? upstreamConf : { ...upstreamConf, timeout }
      const key = stableStringify(conf)
      let upstream = upstreams.get(key) ?? previous?.upstreams.get(key)
      if (upstream === undefined || upstream.closed) upstream = new Upstream(conf as ConstructorParameters<typeof Upstream>[0])
      upstreams.set(key, upstream)
      return upstream
    }
    const globalRules = globalPlugins(snapshot).rules.map((rule) =>
      this.#compile(`${where}global rule ${rule.id}`, rule.id, undefined, 'global_rule', rule.pluginsConfig),
    )
    const global = globalPhases(globalRules)
    const order = this.#options.phaseOrder ?? 'apisix-3.17'
    const consumersRespond = this.#consumersMayRespond(snapshot)
    const routes = new Map<string, GatewayRoute>()
    for (const config of snapshot.routes) {
      const merged = mergeRoute(snapshot, config)
      // An unchanged route keeps its compiled plugins (and so its conf tokens).
      const before = previous?.routes.get(merged.id)
      const own =
        before !== undefined && before.merged.fingerprint === merged.fingerprint && before.merged.name === merged.name
          ? before.own
          : this.#compile(`${where}route ${merged.id}`, merged.id, merged.name, 'route', merged.pluginsConfig)
      const runs = new WeakMap<ConsumerConfig, ConsumerRun>()
      const pipeline = planRoute({
        route: own,
        global,
        order,
        mayRespond: consumersRespond && [...merged.pluginNames].some((name) => this.#isAuth(name)),
        consumer: (exchange) => {
          const attached = consumerOf(exchange)
          if (attached === undefined) return undefined
          let run = runs.get(attached.consumer)
          if (run === undefined) runs.set(attached.consumer, (run = this.#consumerRun(snapshot, merged, attached.consumer)))
          return run
        },
      })
      routes.set(merged.id, { merged, own, pipeline, upstream: upstreamFor(merged.upstream, merged.timeout) })
    }
    const server = this.#options.serverHeader ?? 'APISIX'
    return {
      snapshot,
      router: createRouter(snapshot, { logger: this.#ext.logger }),
      routes,
      globalRules,
      upstreams,
      serverHeader: server === false ? undefined : server,
      unmatched: planUnmatched(global),
    }
  }

  #compile(what: string, id: string, name: string | undefined, confType: ConfType, plugins: PluginMap): Pipeline {
    try {
      return compilePipeline(this.#ext.plugins, { id, name, confType, plugins }, 1, contentHash, this.#ext.logger)
    } catch (err) {
      if (err instanceof ConfigError) err.message = `${what}: ${err.message}`
      throw err
    }
  }

  #isAuth(name: string): boolean {
    return AUTH_PLUGINS.has(name) || (this.#ext.plugins.get(name)?.plugin as { type?: unknown } | undefined)?.type === 'auth'
  }

  /** Some consumer or consumer group has a plugin with a response phase: routes with auth must hold responses. */
  #consumersMayRespond(snapshot: ConfigSnapshot): boolean {
    const maps = [...[...snapshot.consumers.values()].map((c) => c.plugins), ...[...snapshot.consumerGroups.values()].map((g) => g.plugins)]
    return maps.some((plugins) => Object.keys(plugins ?? {}).some((name) => this.#ext.plugins.get(name)?.plugin.response !== undefined))
  }

  /**
   * A route's plugins once `consumer` is attached (§3 step 4): group and consumer laid over the
   * route, compiled with APISIX's conf keys (`route&consumer#<route>&<username>…`), built on
   * the first request of that consumer on that route and kept for the state's life.
   */
  #consumerRun(snapshot: ConfigSnapshot, merged: MergedRoute, consumer: ConsumerConfig): ConsumerRun {
    const m = mergeConsumer(snapshot, merged, consumer, (name) => this.#isAuth(name))
    const pipeline = this.#compile(`route ${merged.id}, consumer ${consumer.username}`, m.confId, merged.name, m.confType, m.pluginsConfig)
    if (m.missingGroup) {
      this.#ext.logger.error({ route: merged.id, consumer: consumer.username, group: m.groupId }, `failed to fetch consumer group config by id: ${m.groupId}`)
      return { pipeline, rewriteInConsumer: [unavailable('consumer-group')] }
    }
    const names = new Set(m.rewriteInConsumer)
    return { pipeline, rewriteInConsumer: pipeline.phases.rewrite.filter((i) => names.has(i.name)) }
  }

  /** Builds and swaps in a configuration; either way published on `apisix-ext-plugin:config-reload`. */
  #apply(source: string, build: () => GatewayState): void {
    try {
      this.#swap(build())
    } catch (err) {
      publishConfigReload(source, this.#state.routes.size, err)
      throw err
    }
    publishConfigReload(source, this.#state.routes.size)
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
      if (current.upstreams.get(key) === upstream) continue
      // An older state still serving requests may hold the same pool: a reload that skipped
      // back to an earlier upstream reused it (an etcd burst does). That state closes it when done.
      if ([...this.#inFlight.keys()].some((other) => other !== state && other.upstreams.get(key) === upstream)) continue
      void upstream.close()
    }
  }

  #onFileChange(result: WatchResult): void {
    if (this.#closed) return
    // The file is as the Admin API last read or wrote it, and memory is at least that new: a
    // read the watcher began before that write would only take the gateway back.
    if (this.#rawStamp !== undefined && this.#file !== undefined && fileStamp(this.#file) === this.#rawStamp) return
    try {
      this.#apply('file', () => {
        if (result.error !== undefined) throw result.error
        return this.#build(result.snapshot, this.#state)
      })
      this.#ext.logger.info({ file: this.#file }, `reloaded ${this.#file}`)
    } catch (err) {
      // The running configuration stays: a half-written or invalid file loses nothing.
      this.#ext.logger.error({ file: this.#file, ...errorFields(err) }, `${err instanceof Error ? err.message : String(err)}; keeping the running configuration`)
    }
  }
}

/** A stand-in that ends the request with 503, as APISIX does when a referenced object is missing. */
function unavailable(name: string): PluginInstance {
  return {
    name,
    plugin: { name, priority: 0, rewrite: () => ({ status: 503 }) },
    conf: undefined,
    priority: 0,
    filter: undefined,
    filterReadsBody: false,
    errorResponse: undefined,
  }
}

/** mtime and size: what changes when a file is rewritten (a rename over it included). */
function fileStamp(path: string): string | undefined {
  try {
    const stat = statSync(path)
    return `${stat.mtimeMs}:${stat.size}`
  } catch {
    return undefined
  }
}
