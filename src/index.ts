// apisix-ext-plugin: Apache APISIX's external plugins in-process, for any Node.js server.
// Framework adapters live in apisix-ext-plugin/express, /koa and /http.
import { ExtPlugin } from './ext-plugin.js'
import type { RouteConfig } from './config/schemas.js'
import type { Plugin } from './engine/plugin.js'

export { createExtPlugin, ExtPlugin } from './ext-plugin.js'
export type { ExtPluginOptions, ManagedRunnerOptions, ExternalRunnerOptions } from './ext-plugin.js'
export { Route } from './engine/route.js'
export type { RouteConfig, ExtPluginConf, RunnerConfEntry } from './config/schemas.js'
export { Exchange, RequestBody } from './engine/exchange.js'
export type { ExchangeInit, ExchangeResponse, BodySource, ResponseHeaderPatch } from './engine/exchange.js'
export { HeaderList } from './engine/headers.js'
export type { Plugin, PluginResponse, PhaseResult, Phase, HeadersInit, FinalResponse } from './engine/plugin.js'
export type { PrepareContext } from './engine/pipeline.js'
export type { VariableResolver } from './engine/variables.js'
export { compileFilter } from './expr/index.js'
export type { CompiledFilter, FilterRule, FilterVariables } from './expr/index.js'
export { ErrorCode, ExtPluginError, ConfigError, RpcError, RunnerStartError, isExtPluginError } from './errors.js'
export type { RpcStep } from './errors.js'
export type { Logger } from './logger.js'
export { RunnerClient } from './rpc/client.js'
export type { RunnerClientOptions, RunnerConf, CallSettings } from './rpc/client.js'
export type { ExtraInfoSource } from './rpc/extra-info.js'
export { RunnerProcess } from './runner/process.js'
export type { RunnerProcessOptions, RunnerExit } from './runner/process.js'

/**
 * Checks a route configuration without creating anything: throws a ConfigError naming the
 * plugin and the path of the bad field. `plugins` are in-process plugins it may use.
 */
export function validateRoute(config: RouteConfig, options: { plugins?: ReadonlyArray<Plugin<unknown, unknown>> } = {}): void {
  new ExtPlugin({ plugins: options.plugins }).route(config)
}
