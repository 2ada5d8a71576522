// The validated configuration: APISIX's objects with defaults filled, ids as strings
// (APISIX compares ids with tostring), and references checked. A snapshot never changes
// once built; a reload builds a new one.

export type PluginMap = Readonly<Record<string, Readonly<Record<string, unknown>>>>

export interface Timeout {
  readonly connect: number
  readonly send: number
  readonly read: number
}

export interface UpstreamNode {
  readonly host: string
  /** Filled from the scheme (80/443) when a map key or array item has none. */
  readonly port: number
  readonly weight: number
  readonly priority: number
  readonly metadata?: Readonly<Record<string, unknown>>
}

export interface UpstreamConfig {
  /** Set for items of `upstreams:`; inline upstreams have none. */
  readonly id?: string
  readonly name?: string
  /** Always the array form, in the order given (map keys in insertion order). */
  readonly nodes: readonly UpstreamNode[]
  readonly type: string
  readonly hash_on: 'vars' | 'header' | 'cookie' | 'consumer' | 'vars_combinations'
  readonly key?: string
  readonly scheme: string
  readonly pass_host: 'pass' | 'node' | 'rewrite'
  readonly upstream_host?: string
  readonly retries?: number
  readonly retry_timeout?: number
  readonly timeout?: Timeout
  readonly keepalive_pool?: { readonly size: number; readonly idle_timeout: number; readonly requests: number }
  readonly tls?: Readonly<Record<string, unknown>>
  readonly checks?: Readonly<Record<string, unknown>>
  readonly labels?: Readonly<Record<string, string>>
}

export interface RouteConfig {
  readonly id: string
  readonly name?: string
  readonly desc?: string
  readonly labels?: Readonly<Record<string, string>>
  /** `uri` or `uris`, always as a list. */
  readonly uris: readonly string[]
  readonly priority: number
  readonly methods?: readonly string[]
  /** `host` or `hosts`, lower-cased, as a list. */
  readonly hosts?: readonly string[]
  /** `remote_addr` or `remote_addrs`, as a list. */
  readonly remote_addrs?: readonly string[]
  readonly vars?: readonly unknown[]
  readonly plugins?: PluginMap
  readonly plugin_config_id?: string
  readonly upstream?: UpstreamConfig
  readonly upstream_id?: string
  readonly service_id?: string
  readonly timeout?: Timeout
  readonly enable_websocket?: boolean
  readonly status: 0 | 1
  /** Position in the file (0-based), the last tie-breaker of the router. */
  readonly index: number
}

export interface ServiceConfig {
  readonly id: string
  readonly name?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly plugins?: PluginMap
  readonly upstream?: UpstreamConfig
  readonly upstream_id?: string
  /** Lower-cased. */
  readonly hosts?: readonly string[]
  readonly enable_websocket?: boolean
}

export interface PluginConfigConfig {
  readonly id: string
  readonly name?: string
  readonly plugins: PluginMap
}

export interface ConsumerConfig {
  readonly username: string
  readonly desc?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly group_id?: string
  readonly plugins?: PluginMap
}

export interface CredentialConfig {
  /** The credential id (the part after `/credentials/`). */
  readonly id: string
  readonly username: string
  readonly plugins: PluginMap
}

export interface ConsumerGroupConfig {
  readonly id: string
  readonly name?: string
  readonly plugins: PluginMap
}

export interface GlobalRuleConfig {
  readonly id: string
  readonly plugins: PluginMap
}

export interface ConfigSnapshot {
  /** Routes in file order (status 0 included; the router leaves them out). */
  readonly routes: readonly RouteConfig[]
  readonly services: ReadonlyMap<string, ServiceConfig>
  readonly upstreams: ReadonlyMap<string, UpstreamConfig>
  readonly pluginConfigs: ReadonlyMap<string, PluginConfigConfig>
  /** By username. */
  readonly consumers: ReadonlyMap<string, ConsumerConfig>
  readonly credentials: readonly CredentialConfig[]
  readonly consumerGroups: ReadonlyMap<string, ConsumerGroupConfig>
  readonly globalRules: readonly GlobalRuleConfig[]
  /** `plugin_metadata` items by plugin name, kept as given (no plugin here reads them). */
  readonly pluginMetadata: ReadonlyMap<string, Readonly<Record<string, unknown>>>
  /** Things accepted with a warning (ignored unknown plugins, invalid disabled confs). */
  readonly warnings: readonly string[]
}
