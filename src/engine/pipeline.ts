// A route's configuration compiled once into what runs per request (design.md "Route"):
// plugin instances checked against their schemas, `_meta` applied (disable, priority,
// filter, error_response), and per phase a list in descending priority.
import { ConfigError, ErrorCode } from '../errors.js'
import { compileFilter, type CompiledFilter } from '../expr/index.js'
import type { Logger } from '../logger.js'
import { PHASES, toBody, type Phase, type Plugin } from './plugin.js'
import type { PluginRegistry } from './registry.js'
import type { Exchange } from './exchange.js'

/** One plugin as configured on one route version. */
export interface PluginInstance {
  readonly name: string
  readonly plugin: Plugin<unknown, unknown>
  /** The configuration handlers receive (after the plugin's `prepare`, if it has one). */
  readonly conf: unknown
  readonly priority: number
  readonly filter: CompiledFilter | undefined
  /** The filter needs the request body (a `post_arg_*` variable). */
  readonly filterReadsBody: boolean
  /** `_meta.error_response`, encoded: the body of any ≥ 400 response this plugin returns. */
  readonly errorResponse: Buffer | undefined
}

export interface Pipeline {
  readonly routeId: string
  readonly routeName: string | undefined
  /** Bumped by every update; part of each conf token key. */
  readonly version: number
  readonly phases: Readonly<Record<Phase, readonly PluginInstance[]>>
  /**
   * When set, the request phases run these stages in order instead of `phases.rewrite` then
   * `phases.access`: a gateway interleaves its global rules' phases with the route's.
   */
  readonly stages?: readonly Stage[]
  /** A branch stage may bring response-phase plugins that `phases.response` lacks. */
  readonly mayRespond?: boolean
}

export type RequestPhase = 'rewrite' | 'access'

/**
 * One step of the request phases: a list of plugins run in one phase, or a branch that may
 * replace the stages still to come (and the response list) once the request says more
 * about itself — the gateway's consumer merge after an auth plugin identified the consumer.
 */
export type Stage =
  | { readonly phase: RequestPhase; readonly instances: readonly PluginInstance[] }
  | { readonly phase: 'branch'; readonly next: (exchange: Exchange) => Branch | undefined }

export interface Branch {
  /** Replace the stages after the branch. */
  readonly stages: readonly Stage[]
  /** Replace the pipeline's response-phase list for this request. */
  readonly response: readonly PluginInstance[]
}

/** What a plugin's `prepare` learns about the configuration it is preparing. */
export interface PrepareContext {
  /** `route` for routes and mounts, `global_rule` for a gateway's global rules (conf token keys). */
  readonly confType: ConfType
  readonly routeId: string
  readonly version: number
  /** Stable across processes for the same configuration content. */
  readonly contentHash: string
}

/**
 * The first part of a conf token key. APISIX's own: `route`, `global_rule`, and after a
 * consumer merge `route&consumer`, `route&consumer&consumer_group` (plugin.lua
 * merge_consumer_route), whose conf ids are `<route>&<username>[&<group>]`.
 */
export type ConfType = 'route' | 'global_rule' | 'route&consumer' | 'route&consumer&consumer_group'

interface Meta {
  disable?: boolean
  priority?: number
  filter?: unknown[]
  error_response?: string | object
}

export function compilePipeline(
  registry: PluginRegistry,
  route: { id: string; name?: string | undefined; confType?: ConfType; plugins: Readonly<Record<string, unknown>> },
  version: number,
  contentHash: (pluginConf: unknown) => string,
  logger: Logger,
): Pipeline {
  const instances: PluginInstance[] = []
  for (const [name, rawConf] of Object.entries(route.plugins)) {
    const registered = registry.get(name)
    if (registered === undefined) {
      throw new ConfigError(ErrorCode.INVALID_CONFIG, `unknown plugin [${name}]`, `/plugins/${name}`, name)
    }
    // Validation fills defaults in; work on a copy so the caller's object stays as given.
    const conf = structuredClone(rawConf) as Record<string, unknown>
    const meta = (isObject(conf) && isObject(conf._meta) ? conf._meta : {}) as Meta
    try {
      registered.check(conf)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      if (meta.disable !== true) throw atPath(err, `/plugins/${name}`)
      logger.warn({ plugin: name }, `failed to check the configuration of disabled plugin ${name}, accepting it anyway`)
    }
    if (meta.disable === true) continue
    let filter: CompiledFilter | undefined
    let filterReadsBody = false
    if (meta.filter !== undefined) {
      try {
        filter = compileFilter(meta.filter)
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        throw atPath(err, `/plugins/${name}/_meta/filter`, `failed to check the configuration of plugin ${name} err: `)
      }
      filterReadsBody = variableNames(meta.filter).some((v) => v.startsWith('post_arg_'))
    }
    const plugin = registered.plugin
    const prepared = plugin.prepare
      ? plugin.prepare(conf, { confType: route.confType ?? 'route', routeId: route.id, version, contentHash: contentHash(conf) })
      : conf
    instances.push({
      name,
      plugin,
      conf: prepared,
      priority: meta.priority ?? plugin.priority,
      filter,
      filterReadsBody,
      errorResponse: meta.error_response === undefined ? undefined : toBody(meta.error_response),
    })
  }
  // `_meta.priority` replaces the default for this instance only. APISIX sorts with a strict
  // "greater than", so equal priorities have no defined order; a stable sort keeps
  // configuration order among equals, one of the orders APISIX allows.
  instances.sort((a, b) => b.priority - a.priority)
  const phases = Object.fromEntries(PHASES.map((phase) => [phase, instances.filter((i) => i.plugin[phase] !== undefined)]))
  return { routeId: route.id, routeName: route.name, version, phases: phases as Record<Phase, PluginInstance[]> }
}

/** The variable names an expression reads (the first element of each leaf). */
export function variableNames(rule: unknown): string[] {
  const names: string[] = []
  const walk = (node: unknown): void => {
    if (!Array.isArray(node) || node.length === 0) return
    const [first] = node
    if (Array.isArray(first)) node.forEach(walk)
    else if (typeof first === 'string' && /^!?(AND|OR)$/i.test(first)) node.slice(1).forEach(walk)
    else if (typeof first === 'string') names.push(first)
  }
  walk(rule)
  return names
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The same error, with the field's path made absolute within the route. */
function atPath(err: ConfigError, prefix: string, messagePrefix = ''): ConfigError {
  return new ConfigError(err.code, messagePrefix + err.message, prefix + err.path, err.plugin ?? prefix.split('/')[2])
}
