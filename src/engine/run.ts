// Runs a pipeline's phases over an exchange (design.md "Phases"): rewrite, access, then,
// once the application has answered, response. Within a phase plugins run in descending
// priority; a handler that returns a response ends the request there.
import { errorFields, type Logger } from '../logger.js'
import { withErrorPage } from './error-page.js'
import type { Exchange, PipelineRun } from './exchange.js'
import type { CompiledFilter } from '../expr/index.js'
import type { PluginInstance, Pipeline, Stage } from './pipeline.js'
import { toFinalResponse, type FinalResponse, type PluginResponse } from './plugin.js'
import { prepareVariables } from './variables.js'

// Most requests pass one pipeline: its run is kept inline, a Map only for the second on.
function stateOf(exchange: Exchange, pipeline: Pipeline): PipelineRun {
  const engine = exchange.engine
  if (engine.firstRun === undefined) return (engine.firstRun = { pipeline, ran: [], response: undefined })
  if (engine.firstRun.pipeline === pipeline) return engine.firstRun
  const states = (engine.runs ??= new Map())
  let state = states.get(pipeline)
  if (state === undefined) states.set(pipeline, (state = { pipeline, ran: [], response: undefined }))
  return state
}

/** The rewrite and access phases. A response means: answer the client with it, skip the rest. */
export async function runRequestPhases(pipeline: Pipeline, exchange: Exchange, logger: Logger): Promise<FinalResponse | undefined> {
  exchange.routeId = pipeline.routeId
  exchange.routeName = pipeline.routeName
  const state = stateOf(exchange, pipeline)
  let stages = pipeline.stages ?? defaultStages(pipeline)
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!
    if (stage.phase === 'branch') {
      const branch = stage.next(exchange)
      if (branch !== undefined) {
        state.response = branch.response
        stages = branch.stages
        i = -1
      }
      continue
    }
    for (const instance of stage.instances) {
      // no filter, no await: most plugins have none
      if (instance.filter !== undefined && !(await admitted(instance, instance.filter, exchange, logger))) continue
      state.ran.push(instance)
      const result = await invoke(instance, stage.phase, exchange, logger)
      if (result !== undefined) return result
    }
  }
  return undefined
}

// A plain pipeline's stages: its rewrite list, then its access list (made once per pipeline).
const plainStages = new WeakMap<Pipeline, readonly Stage[]>()
function defaultStages(pipeline: Pipeline): readonly Stage[] {
  let stages = plainStages.get(pipeline)
  if (stages === undefined) {
    stages = [
      { phase: 'rewrite', instances: pipeline.phases.rewrite },
      { phase: 'access', instances: pipeline.phases.access },
    ]
    plainStages.set(pipeline, stages)
  }
  return stages
}

/**
 * The response phase over `exchange.response`, which it may replace. After a request
 * ended early (`stopped`), only plugins that already ran in this request take part.
 */
export async function runResponsePhase(pipeline: Pipeline, exchange: Exchange, logger: Logger, stopped: boolean): Promise<void> {
  const state = stateOf(exchange, pipeline)
  for (const instance of state.response ?? pipeline.phases.response) {
    if (stopped && !state.ran.includes(instance)) continue
    if (instance.filter !== undefined && !(await admitted(instance, instance.filter, exchange, logger))) continue
    const result = await invoke(instance, 'response', exchange, logger)
    if (result !== undefined) exchange.response = { status: result.status, headers: result.headers, body: result.body }
  }
}

/** True when this route has, or may have (see Pipeline.mayRespond), anything to run after the application answered. */
export function hasResponsePhase(pipeline: Pipeline): boolean {
  return pipeline.phases.response.length > 0 || pipeline.mayRespond === true
}

async function invoke(
  instance: PluginInstance,
  phase: 'rewrite' | 'access' | 'response',
  exchange: Exchange,
  logger: Logger,
): Promise<FinalResponse | undefined> {
  let result: PluginResponse | undefined | void
  try {
    result = await instance.plugin[phase]!(instance.conf, exchange)
  } catch (err) {
    // A plugin that throws is a bug, as a Lua runtime error is in APISIX: 500, no error_response.
    logger.error({ plugin: instance.name, phase, method: exchange.method, url: exchange.requestUri, ...errorFields(err) }, `plugin ${instance.name} failed in the ${phase} phase: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    return withErrorPage(toFinalResponse({ status: 500 }))
  }
  if (result === undefined || result === null) return undefined
  const response = toFinalResponse(result)
  if (response.status >= 400) {
    logger.warn({ plugin: instance.name, phase, method: exchange.method, url: exchange.requestUri, status: response.status }, `${instance.name} exits with http status code ${response.status}`)
    if (instance.errorResponse !== undefined) response.body = instance.errorResponse
  }
  return withErrorPage(response)
}

/** The verdict of `filter`, the plugin's `_meta.filter` (a plugin without one is not asked). */
async function admitted(instance: PluginInstance, filter: CompiledFilter, exchange: Exchange, logger: Logger): Promise<boolean> {
  const verdicts = (exchange.engine.filterVerdicts ??= new Map())
  let verdict = verdicts.get(instance)
  if (verdict !== undefined) return verdict
  try {
    if (instance.filterReadsBody) await prepareVariables(exchange, ['post_arg_'])
    verdict = filter.evaluate((name) => exchange.variable(name))
  } catch (err) {
    // APISIX runs the plugin when its filter cannot be evaluated.
    logger.warn({ plugin: instance.name, method: exchange.method, url: exchange.requestUri, ...errorFields(err) }, `failed to run the 'vars' expression: ${err instanceof Error ? err.message : String(err)}`)
    verdict = true
  }
  verdicts.set(instance, verdict)
  return verdict
}
