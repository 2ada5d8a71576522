// What a matched request runs (apisix-config.md §3 step 4, §4): the global rules' plugins and
// the route's, interleaved phase by phase in the configured order, with the consumer merge as
// a branch right after the route's rewrite phase. Built once per route and state; the branch
// result is built once per consumer.
import type { Exchange } from '../engine/exchange.js'
import type { Branch, Pipeline, PluginInstance, RequestPhase, Stage } from '../engine/pipeline.js'
import { phaseOrder, type PhaseOrder, type PhaseStep } from './merge.js'

/** The global rules' plugins as one set per phase (APISIX ≥ 3.15 sorts across rules). */
export interface GlobalPhases {
  readonly rewrite: readonly PluginInstance[]
  readonly access: readonly PluginInstance[]
  readonly response: readonly PluginInstance[]
}

/** A route's plugins after an auth plugin attached a consumer. */
export interface ConsumerRun {
  /** The route's merged plugins with the group's and the consumer's laid over them. */
  readonly pipeline: Pipeline
  /** Rewrite handlers to run now: plugins the route lacked that are not auth plugins (`rewrite_in_consumer`). */
  readonly rewriteInConsumer: readonly PluginInstance[]
}

export interface PlanInput {
  /** The route's own merged plugins (service, plugin config, route). */
  readonly route: Pipeline
  readonly global: GlobalPhases
  readonly order: PhaseOrder
  /** The consumer's run for this request, or undefined when no consumer is attached. */
  readonly consumer: (exchange: Exchange) => ConsumerRun | undefined
  /** A consumer may bring response-phase plugins the route lacks (the response must be held). */
  readonly mayRespond: boolean
}

export function globalPhases(pipelines: readonly Pipeline[]): GlobalPhases {
  const merged = (phase: 'rewrite' | 'access' | 'response'): PluginInstance[] =>
    // A stable sort: equal priorities keep rule order, then each rule's own order.
    pipelines.flatMap((p) => p.phases[phase]).sort((a, b) => b.priority - a.priority)
  return { rewrite: merged('rewrite'), access: merged('access'), response: merged('response') }
}

export const NO_GLOBALS: GlobalPhases = { rewrite: [], access: [], response: [] }

/** The pipeline a matched request of `input.route` runs on. */
export function planRoute(input: PlanInput): Pipeline {
  const { route, global } = input
  const steps = phaseOrder(input.order)
  const branchAt = steps.findIndex((s) => s.scope === 'consumer')
  const after = steps.slice(branchAt + 1)
  const branches = new WeakMap<ConsumerRun, Branch>()
  const branch: Stage = {
    phase: 'branch',
    next(exchange) {
      const run = input.consumer(exchange)
      if (run === undefined) return undefined
      let out = branches.get(run)
      if (out === undefined) {
        const stages: Stage[] = [{ phase: 'rewrite', instances: run.rewriteInConsumer }, ...requestStages(after, global, run.pipeline)]
        out = { stages, response: responseList(steps, global, run.pipeline) }
        branches.set(run, out)
      }
      return out
    },
  }
  const stages = [...requestStages(steps.slice(0, branchAt), global, route), branch, ...requestStages(after, global, route)]
  return {
    routeId: route.routeId,
    routeName: route.routeName,
    version: route.version,
    phases: {
      rewrite: [...global.rewrite, ...route.phases.rewrite],
      access: [...global.access, ...route.phases.access],
      response: responseList(steps, global, route),
    },
    stages,
    mayRespond: input.mayRespond,
  }
}

function requestStages(steps: readonly PhaseStep[], global: GlobalPhases, route: Pipeline): Stage[] {
  const out: Stage[] = []
  for (const step of steps) {
    if (step.phase === 'response' || step.scope === 'consumer') continue
    const phase: RequestPhase = step.phase
    const instances = step.scope === 'global' ? global[phase] : route.phases[phase]
    if (instances.length > 0) out.push({ phase, instances })
  }
  return out
}

function responseList(steps: readonly PhaseStep[], global: GlobalPhases, route: Pipeline): PluginInstance[] {
  const out: PluginInstance[] = []
  for (const step of steps) {
    if (step.phase !== 'response') continue
    out.push(...(step.scope === 'global' ? global.response : route.phases.response))
  }
  return out
}

/**
 * What a request no route matched runs before APISIX's 404 (§2.2, §4): global rewrite, then
 * global access, in both orders; the global response phase sees the 404.
 */
export function planUnmatched(global: GlobalPhases): Pipeline {
  return {
    routeId: '',
    routeName: undefined,
    version: 1,
    phases: { rewrite: global.rewrite, access: global.access, response: global.response },
    stages: [
      { phase: 'rewrite', instances: global.rewrite },
      { phase: 'access', instances: global.access },
    ],
  }
}
