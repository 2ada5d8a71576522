// The gateway: one validated APISIX configuration compiled into what requests run on (a
// router, each route's merged plugins as an engine Route, global rules, upstreams with their
// pools), swapped whole on every change. A request reads `gateway.state` once and finishes
// on that state, so a reload never mixes two configurations inside one request.
import { readFileSync, watch, type FSWatcher } from 'node:fs'
import { ConfigError, ErrorCode } from '../errors.js'
import type { Route } from '../engine/route.js'
import type { ExtPlugin } from '../ext-plugin.js'
import type { ConfigSnapshot } from './config/types.js'
import { validateConfig } from './config/validate.js'
import { globalPlugins, mergeRoute, stableStringify, type MergedRoute } from './merge.js'
import { createRouter, type Router } from './router/router.js'
import { parseConfigObject } from './source/file.js'
import { Upstream } from './upstream/upstream.js'

/** A path to an apisix.yaml / JSON file, or a configuration object of the same shape. */
export type GatewaySource = string | Readonly<Record<string, unknown>>

export interface GatewayOptions {
  /** Re-read the file when it changes (debounced), validate it whole, swap it in. */
  readonly watch?: boolean
  /** Milliseconds a burst of file changes is collapsed into one reload. Default 100. */
  readonly debounce?: number
  /** `error` (default): a plugin nobody registered fails the config; `ignore`: warn once, skip it. */
  readonly unknownPlugins?: 'error' | 'ignore'
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
  #watcher: FSWatcher | undefined
  #debounce: NodeJS.Timeout | undefined
  #closed = false

  constructor(ext: ExtPlugin, source: GatewaySource, options: GatewayOptions = {}) {
    this.#ext = ext
    this.#options = options
    this.#file = typeof source === 'string' ? source : undefined
    this.#state = this.#build(typeof source === 'string' ? this.#readFile(source) : source, undefined)
    if (options.watch === true && this.#file !== undefined) this.#watch(this.#file)
  }

  /** What new requests run on. */
  get state(): GatewayState {
    return this.#state
  }

  get ext(): ExtPlugin {
    return this.#ext
  }

  /** Validates `config` whole and swaps it in; on error (a ConfigError naming the field) nothing changes. */
  update(config: Readonly<Record<string, unknown>>): void {
    this.#swap(this.#build(config, this.#state))
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
    clearTimeout(this.#debounce)
    this.#watcher?.close()
    await Promise.all([...this.#state.upstreams.values()].map((u) => u.close()))
  }

  #readFile(path: string): unknown {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      throw new ConfigError(ErrorCode.INVALID_CONFIG, `cannot read ${path}: ${(err as Error).message}`, '')
    }
    return parseConfigObject(text, path)
  }

  #build(input: unknown, previous: GatewayState | undefined): GatewayState {
    const where = this.#file === undefined ? '' : `${this.#file}: `
    let snapshot: ConfigSnapshot
    try {
      snapshot = validateConfig(input, {
        plugins: this.#ext.plugins,
        unknownPlugins: this.#options.unknownPlugins ?? 'error',
        logger: this.#ext.logger,
        warned: this.#warned,
      })
    } catch (err) {
      if (err instanceof ConfigError && where !== '') err.message = where + err.message
      throw err
    }
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
    for (const [key, upstream] of previous.upstreams) {
      if (next.upstreams.get(key) !== upstream) void upstream.close()
    }
  }

  #watch(path: string): void {
    // The directory is watched, not the file: editors and atomic writers replace the file
    // (a new inode), which a watch on the file itself would not follow.
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.'
    const base = path.slice(path.lastIndexOf('/') + 1)
    this.#watcher = watch(dir, (_event, name) => {
      if (name !== null && name !== base) return
      clearTimeout(this.#debounce)
      this.#debounce = setTimeout(() => this.#onFileChange(), this.#options.debounce ?? 100)
    })
    this.#watcher.unref()
  }

  #onFileChange(): void {
    if (this.#closed) return
    try {
      this.#swap(this.#build(this.#readFile(this.#file!), this.#state))
      this.#ext.logger.info(`reloaded ${this.#file}`)
    } catch (err) {
      // The running configuration stays: a half-written or invalid file loses nothing.
      this.#ext.logger.error(`${err instanceof Error ? err.message : String(err)}; keeping the running configuration`)
    }
  }
}
