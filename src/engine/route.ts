// A route: an APISIX-style plugin configuration, validated and compiled once. update()
// swaps the compiled pipeline in one assignment, so a request runs start to finish on the
// pipeline it started with, and bumps the version so each ext-plugin prepares a new conf.
import { routeSchema, type AnyPlugins, type PluginConfs, type RouteConfig } from '../config/schemas.js'
import { compileCheck } from '../config/validate.js'
import type { Logger } from '../logger.js'
import { compilePipeline, type ConfType, type Pipeline } from './pipeline.js'
import type { PluginRegistry } from './registry.js'
import { contentHash } from './runner-plugins.js'

const checkRoute = compileCheck(routeSchema, 'invalid route configuration: ')
let nextRouteId = 1

/** `P` types the configurations update() takes (see RouteConfig); any plugin name when unknown. */
export class Route<P extends PluginConfs = AnyPlugins> {
  readonly id: string
  #pipeline: Pipeline
  readonly #registry: PluginRegistry
  readonly #logger: Logger
  readonly #confType: ConfType

  constructor(registry: PluginRegistry, config: RouteConfig<P>, logger: Logger, confType: ConfType = 'route') {
    this.#registry = registry
    this.#logger = logger
    this.#confType = confType
    checkRoute(config)
    this.id = config.id === undefined ? String(nextRouteId++) : String(config.id)
    this.#pipeline = this.#compile(config, 1)
  }

  /** The pipeline new requests run on. */
  get pipeline(): Pipeline {
    return this.#pipeline
  }

  get version(): number {
    return this.#pipeline.version
  }

  /** Validates and compiles `config`, then swaps it in; on error the current one stays. */
  update(config: RouteConfig<P>): void {
    checkRoute(config)
    this.#pipeline = this.#compile(config, this.#pipeline.version + 1)
  }

  #compile(config: RouteConfig<P>, version: number): Pipeline {
    return compilePipeline(this.#registry, { id: this.id, name: config.name, confType: this.#confType, plugins: config.plugins }, version, contentHash, this.#logger)
  }
}
