// apisix-ext-plugin: Apache APISIX's external plugins in-process, for any Node.js server.
// Framework adapters live in apisix-ext-plugin/express, /koa and /http.
import { ExtPlugin } from './ext-plugin.js'
import type { AnyPlugins, RouteConfig } from './config/schemas.js'
import type { AnyPlugin, PluginConfsOf } from './engine/plugin.js'

export { createExtPlugin, ExtPlugin } from './ext-plugin.js'
export type { ExtPluginOptions, ManagedRunnerOptions, ExternalRunnerOptions, ExtPluginHealth } from './ext-plugin.js'
export type { RunnerHealth, RunnerState, RunnerRole, RunnerExitInfo } from './runner/health.js'
export type { ManagedRunner } from './runner/managed.js'
export { Route } from './engine/route.js'
export type { RouteConfig, RoutePlugins, ExtPluginsConfig, ExtPluginConf, RunnerConfEntry, PluginMeta, PluginConfig, PluginConfs, NoPlugins, AnyPlugins } from './config/schemas.js'
export { Exchange, RequestBody } from './engine/exchange.js'
export type { ExchangeInit, ExchangeResponse, BodySource, ResponseHeaderPatch } from './engine/exchange.js'
export { HeaderList } from './engine/headers.js'
export { defineInProcessPlugin } from './engine/plugin.js'
export type { Plugin, AnyPlugin, PluginConfOf, PluginConfsOf, PluginResponse, PhaseResult, Phase, HeadersInit, FinalResponse } from './engine/plugin.js'
export type { PrepareContext } from './engine/pipeline.js'
export type { VariableResolver } from './engine/variables.js'
export { compileFilter } from './expr/index.js'
export type { CompiledFilter, FilterRule, FilterElement, FilterExpression, FilterGroup, FilterList, FilterLogic, FilterOperator, FilterValue, FilterVariables } from './expr/types.js'
export { ErrorCode, ExtPluginError, ConfigError, RpcError, RunnerStartError, isExtPluginError } from './errors.js'
export type { RpcStep } from './errors.js'
export type { Logger } from './logger.js'
export type { Gateway, GatewayOptions, GatewaySource } from './gateway/gateway.js'
export type { PhaseOrder } from './gateway/merge.js'
// The hook for auth plugins in gateway mode (README "Gateway", consumers).
export { attachConsumer, consumerOf } from './gateway/plugins/key-auth.js'
export type { AttachedConsumer } from './gateway/plugins/key-auth.js'
export type { ConsumerConfig } from './gateway/config/types.js'
export {
  RUNNER_CALL_CHANNEL,
  PREPARE_CONF_CHANNEL,
  RUNNER_SPAWN_CHANNEL,
  RUNNER_EXIT_CHANNEL,
  RUNNER_RESPAWN_CHANNEL,
  DEGRADATION_CHANNEL,
  CONFIG_RELOAD_CHANNEL,
} from './diagnostics/names.js'
export type * from './diagnostics/contexts.js'
export type { ExtPluginStats, PhaseCalls, CallOutcome } from './diagnostics/stats.js'
export type { HistogramSnapshot, HistogramBucket } from './diagnostics/histogram.js'
export { LATENCY_BUCKETS_MS } from './diagnostics/histogram.js'

/**
 * Checks a route configuration without creating anything: throws a ConfigError naming the
 * plugin and the path of the bad field. `plugins` are in-process plugins it may use. It
 * takes any value (a parsed file, a request body) and, when it returns, TypeScript knows
 * the value is a RouteConfig for those plugins.
 */
export function validateRoute<const Ps extends readonly AnyPlugin[] = []>(config: unknown, options: { readonly plugins?: Ps } = {}): asserts config is RouteConfig<PluginConfsOf<Ps>> {
  new ExtPlugin<AnyPlugins>({ plugins: options.plugins }).route(config as RouteConfig<AnyPlugins>)
}
// etcd as a gateway's configuration source (README "Fleet: etcd").
export type { EtcdGatewaySource } from './gateway/gateway.js'
export type { EtcdSourceOptions } from './gateway/source/etcd.js'
