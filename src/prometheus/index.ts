// apisix-ext-plugin/prometheus: ext.stats() as Prometheus metrics on the application's own
// prom-client registry (an optional peer dependency). Nothing is counted here: each metric
// reads the snapshot when the registry is scraped, so the numbers are ext.stats()'s.
//
//   import { Registry } from 'prom-client'
//   import { registerMetrics } from 'apisix-ext-plugin/prometheus'
//   const registry = new Registry()
//   registerMetrics(ext, { registry })
//   app.get('/metrics', async (req, res) => res.type(registry.contentType).send(await registry.metrics()))
import { Counter, Gauge, type Metric, type Registry, type RegistryContentType } from 'prom-client'
import type { ExtPluginStats } from '../diagnostics/stats.js'
import { PHASES } from '../engine/plugin.js'
import type { ExtPlugin } from '../ext-plugin.js'
import { ScrapedHistogram } from './histogram.js'

export interface RegisterMetricsOptions {
  /** The registry to add the metrics to (prom-client's `register` for the global one). */
  readonly registry: Registry<RegistryContentType>
  /** Prepended to every name. Default `apisix_ext_plugin_`. */
  readonly prefix?: string
}

/** The metrics' names without the prefix, as documented in the README ("Metrics"). */
export const METRIC_NAMES = [
  'runner_calls_total',
  'runner_latency_seconds',
  'prepare_conf_total',
  'token_cache_hits_total',
  'token_cache_misses_total',
  'token_cache_entries',
  'runner_retries_total',
  'degradations_total',
  'runner_unavailable_total',
  'runner_respawns_total',
  'runner_connections',
  'runner_connections_opened_total',
  'runner_calls_in_flight',
] as const

/** Registers the metrics; returns a function that removes them from the registry again. */
export function registerMetrics(ext: Pick<ExtPlugin, 'stats'>, options: RegisterMetricsOptions): () => void {
  const { registry } = options
  const prefix = options.prefix ?? 'apisix_ext_plugin_'
  // One snapshot per scrape: registry.metrics() calls every collect in the same tick, so
  // the metrics of one scrape agree with each other (calls and latency counts match).
  let current: ExtPluginStats | undefined
  const stats = (): ExtPluginStats => {
    if (current === undefined) {
      current = ext.stats()
      queueMicrotask(() => (current = undefined))
    }
    return current
  }
  const registers = [registry as Registry]

  /** A counter set from the snapshot: reset, then each value added once. */
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (s: ExtPluginStats, add: (labels: Partial<Record<L, string>>, value: number) => void) => void): void => {
    new Counter<L>({
      name: prefix + name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset()
        read(stats(), (labels, value) => this.inc(labels, value))
      },
    })
  }
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (s: ExtPluginStats, set: (labels: Partial<Record<L, string>>, value: number) => void) => void): void => {
    new Gauge<L>({
      name: prefix + name,
      help,
      labelNames,
      registers,
      collect() {
        read(stats(), (labels, value) => this.set(labels, value))
      },
    })
  }

  counter('runner_calls_total', 'Runner calls (HTTPReqCall, HTTPRespCall) by phase and outcome: ok, stop, rewrite, or the error code', ['phase', 'outcome'], (s, add) => {
    for (const phase of PHASES) for (const [outcome, count] of Object.entries(s.calls[phase])) add({ phase, outcome }, count)
  })
  registry.registerMetric(
    new ScrapedHistogram({
      name: prefix + 'runner_latency_seconds',
      help: 'Runner call latency in seconds by phase, ExtraInfo rounds and retries included',
      labelName: 'phase',
      collect: () => PHASES.map((phase) => [phase, stats().latency[phase]] as const),
    }) as unknown as Metric,
  )
  counter('prepare_conf_total', 'PrepareConf exchanges by result (ok, error)', ['result'], (s, add) => {
    add({ result: 'ok' }, s.prepareConf.ok)
    add({ result: 'error' }, s.prepareConf.error)
  })
  counter('token_cache_hits_total', 'Runner calls that found their conf token cached', [], (s, add) => add({}, s.tokenCache.hits))
  counter('token_cache_misses_total', 'Runner calls that waited for a PrepareConf', [], (s, add) => add({}, s.tokenCache.misses))
  gauge('token_cache_entries', 'Conf tokens cached now', [], (s, set) => set({}, s.tokenCache.size))
  counter('runner_retries_total', 'Runner call attempts repeated, by reason (conf_token_not_found, stale_connection)', ['reason'], (s, add) => {
    add({ reason: 'conf_token_not_found' }, s.retries.confTokenNotFound)
    add({ reason: 'stale_connection' }, s.retries.staleConnection)
  })
  counter('degradations_total', 'Runner failures that let the request through (allow_degradation)', [], (s, add) => add({}, s.degradations))
  counter('runner_unavailable_total', 'Requests answered 503 because the runner failed', [], (s, add) => add({}, s.unavailable))
  counter('runner_respawns_total', 'Times the managed runner was started again after an exit', [], (s, add) => add({}, s.respawns))
  gauge('runner_connections', 'Runner connections by state: active (in a call), idle (kept), queued (calls waiting for one)', ['state'], (s, set) => {
    set({ state: 'active' }, s.connections.active)
    set({ state: 'idle' }, s.connections.idle)
    set({ state: 'queued' }, s.connections.queued)
  })
  counter('runner_connections_opened_total', 'Runner connections opened', [], (s, add) => add({}, s.connections.opened))
  gauge('runner_calls_in_flight', 'Runner calls and PrepareConfs in progress', [], (s, set) => set({}, s.inFlight))

  return () => {
    for (const name of METRIC_NAMES) registry.removeSingleMetric(prefix + name)
  }
}
