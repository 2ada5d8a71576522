// Plugin merging (apisix-config.md §3) and phase order (§4), as data for the engine.
// Precedence: Consumer > Consumer Group > Route > Plugin Config > Service. Replacement is
// per plugin name, whole object; a disabled instance still occupies its name, so it shadows
// lower layers, and is then left out (it never runs). Global rules are not merged into
// routes: they run in addition, as their own plugin set.
import type {
  ConfigSnapshot,
  ConsumerConfig,
  PluginMap,
  RouteConfig,
  Timeout,
  UpstreamConfig,
} from './config/types.js'

export type PluginSource = 'service' | 'plugin_config' | 'route' | 'consumer_group' | 'consumer'

/** One route with its service and plugin config folded in: what the gateway runs for it. */
export interface MergedRoute {
  readonly id: string
  /** The route's name only (APISIX does not take the service's). */
  readonly name: string | undefined
  readonly serviceId: string | undefined
  readonly pluginConfigId: string | undefined
  /** The plugins object for the engine's Route/pipeline: enabled instances only. */
  readonly pluginsConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  /** Which object each plugin of `pluginsConfig` came from. */
  readonly pluginSources: Readonly<Record<string, PluginSource>>
  /** Every name the merged map holds, disabled ones included (they decide `rewriteInConsumer`). */
  readonly pluginNames: ReadonlySet<string>
  /** route upstream_id → route upstream → service upstream_id → service upstream. */
  readonly upstream: UpstreamConfig | undefined
  readonly upstreamId: string | undefined
  /** The route's `timeout`, else the upstream's; undefined means 60 s each. */
  readonly timeout: Timeout | undefined
  readonly enableWebsocket: boolean
  /** `route#<id>`: conf tokens of this route are keyed `route#<id>#<plugin>#…`. */
  readonly confKeyPrefix: string
  /** Equal strings mean equal plugin configurations: unchanged routes may keep their tokens. */
  readonly fingerprint: string
}

/** A route's merged plugins after an auth plugin attached a consumer (§3 step 4). */
export interface ConsumerMerge {
  readonly pluginsConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly pluginSources: Readonly<Record<string, PluginSource>>
  /**
   * Plugins to run in the rewrite phase after the consumer was attached: the ones the route
   * did not have and that are not auth plugins (APISIX's `rewrite_in_consumer`).
   */
  readonly rewriteInConsumer: readonly string[]
  readonly fingerprint: string
  /** The consumer's `group_id`, if any. */
  readonly groupId: string | undefined
  /** The consumer names a group the configuration lacks (APISIX answers 503). */
  readonly missingGroup: boolean
  /** Conf token keys as APISIX makes them: `route&consumer[&consumer_group]`, `<route>&<username>[&<group>]`. */
  readonly confType: 'route&consumer' | 'route&consumer&consumer_group'
  readonly confId: string
}

export interface GlobalRuleSet {
  readonly id: string
  /** `global_rule#<id>`: conf tokens keyed `global_rule#<id>#<plugin>#…`. */
  readonly confKeyPrefix: string
  readonly pluginsConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>
}

export interface GlobalPlugins {
  /** Each rule on its own, in file order. */
  readonly rules: readonly GlobalRuleSet[]
  /**
   * All rules as one plugin set (APISIX ≥ 3.15 merges them and sorts across rules); names
   * are unique across rules, validation refuses a name in two rules.
   */
  readonly pluginsConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  /** The rule each plugin of `pluginsConfig` came from. */
  readonly ruleOf: Readonly<Record<string, string>>
}

/** APISIX's auth plugins (type `auth`): they never re-run in the consumer rewrite step. */
export const AUTH_PLUGINS: ReadonlySet<string> = new Set([
  'key-auth', 'basic-auth', 'jwt-auth', 'hmac-auth', 'ldap-auth', 'wolf-rbac', 'openid-connect', 'authz-keycloak',
  'authz-casdoor', 'cas-auth', 'multi-auth', 'jwe-decrypt',
])

export function mergeRoute(snapshot: ConfigSnapshot, route: RouteConfig | string): MergedRoute {
  const r = typeof route === 'string' ? snapshot.routes.find((x) => x.id === route) : route
  if (r === undefined) throw new Error(`no route ${String(route)}`)
  const service = r.service_id === undefined ? undefined : snapshot.services.get(r.service_id)
  const pluginConfig = r.plugin_config_id === undefined ? undefined : snapshot.pluginConfigs.get(r.plugin_config_id)

  const layers: Array<[PluginSource, PluginMap | undefined]> = [
    ['service', service?.plugins],
    ['plugin_config', pluginConfig?.plugins],
    ['route', r.plugins],
  ]
  const { plugins, sources } = overlay(layers)

  let upstreamId: string | undefined
  let upstream: UpstreamConfig | undefined
  if (r.upstream_id !== undefined) upstreamId = r.upstream_id
  else if (r.upstream !== undefined) upstream = r.upstream
  else if (service?.upstream_id !== undefined) upstreamId = service.upstream_id
  else if (service?.upstream !== undefined) upstream = service.upstream
  if (upstreamId !== undefined) upstream = snapshot.upstreams.get(upstreamId)

  const enabled = enabledOnly(plugins, sources)
  return {
    id: r.id,
    name: r.name,
    serviceId: r.service_id,
    pluginConfigId: r.plugin_config_id,
    pluginsConfig: enabled.plugins,
    pluginSources: enabled.sources,
    pluginNames: new Set(Object.keys(plugins)),
    upstream,
    upstreamId,
    timeout: r.timeout ?? upstream?.timeout,
    enableWebsocket: r.enable_websocket ?? service?.enable_websocket ?? false,
    confKeyPrefix: `route#${r.id}`,
    fingerprint: stableStringify(enabled.plugins),
  }
}

/** Every route of the snapshot merged, by id (status 0 routes included). */
export function mergeAll(snapshot: ConfigSnapshot): Map<string, MergedRoute> {
  return new Map(snapshot.routes.map((r) => [r.id, mergeRoute(snapshot, r)]))
}

/**
 * The merged route with the consumer's group and the consumer laid over it. The group's and
 * the consumer's instances replace the route's by name; the consumer's auth conf (e.g.
 * `key-auth: {key}`) replaces the route's too, as in APISIX, harmlessly: auth has run.
 * `consumer` is the attached consumer object, or a username looked up in the snapshot.
 */
export function mergeConsumer(
  snapshot: ConfigSnapshot,
  merged: MergedRoute,
  consumer: ConsumerConfig | string,
  isAuth: (name: string) => boolean = (name) => AUTH_PLUGINS.has(name),
): ConsumerMerge {
  const c = typeof consumer === 'string' ? snapshot.consumers.get(consumer) : consumer
  const username = typeof consumer === 'string' ? consumer : consumer.username
  const groupId = c?.group_id
  const group = groupId === undefined ? undefined : snapshot.consumerGroups.get(groupId)
  const base: Record<string, Readonly<Record<string, unknown>>> = { ...merged.pluginsConfig }
  const baseSources: Record<string, PluginSource> = { ...merged.pluginSources }
  const { plugins, sources } = overlay(
    [
      ['consumer_group', group?.plugins],
      ['consumer', c?.plugins],
    ],
    base,
    baseSources,
  )
  const enabled = enabledOnly(plugins, sources)
  const rewriteInConsumer = Object.keys(enabled.plugins).filter((name) => !merged.pluginNames.has(name) && !isAuth(name))
  return {
    pluginsConfig: enabled.plugins,
    pluginSources: enabled.sources,
    rewriteInConsumer,
    fingerprint: stableStringify(enabled.plugins),
    groupId,
    missingGroup: groupId !== undefined && group === undefined,
    confType: group === undefined ? 'route&consumer' : 'route&consumer&consumer_group',
    confId: group === undefined ? `${merged.id}&${username}` : `${merged.id}&${username}&${group.id}`,
  }
}

export function globalPlugins(snapshot: ConfigSnapshot): GlobalPlugins {
  const rules: GlobalRuleSet[] = []
  const pluginsConfig: Record<string, Readonly<Record<string, unknown>>> = {}
  const ruleOf: Record<string, string> = {}
  for (const rule of snapshot.globalRules) {
    const own: Record<string, Readonly<Record<string, unknown>>> = {}
    for (const [name, conf] of Object.entries(rule.plugins)) {
      if (isDisabled(conf)) continue
      own[name] = conf
      pluginsConfig[name] = conf
      ruleOf[name] = rule.id
    }
    rules.push({ id: rule.id, confKeyPrefix: `global_rule#${rule.id}`, pluginsConfig: own })
  }
  return { rules, pluginsConfig, ruleOf }
}

/** Where a step's plugins come from: global rules, the merged route, or the consumer re-run. */
export type PhaseScope = 'global' | 'route' | 'consumer'
export interface PhaseStep {
  readonly scope: PhaseScope
  readonly phase: 'rewrite' | 'access' | 'response'
}
/** `apisix-3.17`: APISIX 3.17 and later (PR #13345). `legacy`: the order older docs describe. */
export type PhaseOrder = 'apisix-3.17' | 'legacy'

const STEPS: Record<PhaseOrder, readonly PhaseStep[]> = {
  'apisix-3.17': [
    { scope: 'global', phase: 'rewrite' },
    { scope: 'route', phase: 'rewrite' },
    { scope: 'consumer', phase: 'rewrite' },
    { scope: 'global', phase: 'access' },
    { scope: 'route', phase: 'access' },
    { scope: 'global', phase: 'response' },
    { scope: 'route', phase: 'response' },
  ],
  legacy: [
    { scope: 'global', phase: 'rewrite' },
    { scope: 'global', phase: 'access' },
    { scope: 'route', phase: 'rewrite' },
    { scope: 'consumer', phase: 'rewrite' },
    { scope: 'route', phase: 'access' },
    { scope: 'global', phase: 'response' },
    { scope: 'route', phase: 'response' },
  ],
}

/**
 * The steps of a matched request, in order; the upstream answers between the last access
 * step and the first response step. An unmatched request runs global rewrite and global
 * access, then gets 404 (both orders).
 */
export function phaseOrder(order: PhaseOrder = 'apisix-3.17'): readonly PhaseStep[] {
  return STEPS[order]
}

export const UNMATCHED_STEPS: readonly PhaseStep[] = [
  { scope: 'global', phase: 'rewrite' },
  { scope: 'global', phase: 'access' },
]

function overlay(
  layers: ReadonlyArray<readonly [PluginSource, PluginMap | undefined]>,
  plugins: Record<string, Readonly<Record<string, unknown>>> = {},
  sources: Record<string, PluginSource> = {},
): { plugins: Record<string, Readonly<Record<string, unknown>>>; sources: Record<string, PluginSource> } {
  for (const [source, map] of layers) {
    if (map === undefined) continue
    for (const [name, conf] of Object.entries(map)) {
      plugins[name] = conf
      sources[name] = source
    }
  }
  return { plugins, sources }
}

function enabledOnly(
  plugins: Record<string, Readonly<Record<string, unknown>>>,
  sources: Record<string, PluginSource>,
): { plugins: Record<string, Readonly<Record<string, unknown>>>; sources: Record<string, PluginSource> } {
  const outPlugins: Record<string, Readonly<Record<string, unknown>>> = {}
  const outSources: Record<string, PluginSource> = {}
  for (const [name, conf] of Object.entries(plugins)) {
    if (isDisabled(conf)) continue
    outPlugins[name] = conf
    outSources[name] = sources[name]!
  }
  return { plugins: outPlugins, sources: outSources }
}

function isDisabled(conf: Readonly<Record<string, unknown>>): boolean {
  const meta = conf._meta
  return typeof meta === 'object' && meta !== null && (meta as { disable?: unknown }).disable === true
}

/** JSON with object keys sorted, so equal configurations give equal strings. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
