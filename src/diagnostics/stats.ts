// The counters behind `ext.stats()`. They are counted always (an increment and one
// histogram observation per runner call), unlike the diagnostics channels, which cost
// nothing until someone subscribes; `apisix-ext-plugin/prometheus` reads them at scrape
// time instead of counting a second time.
import type { Phase } from '../engine/plugin.js'
import { LatencyHistogram, type HistogramSnapshot } from './histogram.js'

/** What a successful runner call answered: nothing to do, stop the request, or changes. */
export type CallOutcome = 'ok' | 'stop' | 'rewrite'

/** Calls of one phase: `ok`, `stop`, `rewrite`, and one key per error code (`EXT_ERR_TIMEOUT`…). */
export type PhaseCalls = Readonly<Record<string, number>> & { readonly ok: number; readonly stop: number; readonly rewrite: number }

/** A snapshot of `ext.stats()`: counters since the ExtPlugin was created, gauges as of now. */
export interface ExtPluginStats {
  /** Runner calls (HTTPReqCall, HTTPRespCall; not PrepareConf) by phase and outcome. Retries are one call. */
  readonly calls: Readonly<Record<Phase, PhaseCalls>>
  /** Duration of those calls in ms, failed ones included, by phase; buckets cumulative (Prometheus-style). */
  readonly latency: Readonly<Record<Phase, HistogramSnapshot>>
  /** PrepareConf exchanges that gave a token (`ok`) or failed (`error`). */
  readonly prepareConf: { readonly ok: number; readonly error: number }
  /** Conf token lookups of runner calls: a cached token (`hits`), or a PrepareConf to wait for (`misses`); `size` now. */
  readonly tokenCache: { readonly hits: number; readonly misses: number; readonly size: number }
  /** Attempts repeated: after `conf token not found` (at most 2 per call), and on a reused connection the runner had closed. */
  readonly retries: { readonly confTokenNotFound: number; readonly staleConnection: number }
  /** Runner failures that let the request through (`allow_degradation`). */
  readonly degradations: number
  /** Runner failures answered with 503 (or `_meta.error_response`). */
  readonly unavailable: number
  /** Times the managed runner was started again after an exit (the runner's own counter); 0 for an external runner. */
  readonly respawns: number
  /** Runner connections now: in a call (`active`), kept for reuse (`idle`), calls waiting for one (`queued`); `opened` since start. */
  readonly connections: { readonly active: number; readonly idle: number; readonly queued: number; readonly opened: number }
  /** Runner calls and PrepareConfs in progress now. */
  readonly inFlight: number
}

class PhaseCounters {
  ok = 0
  stop = 0
  rewrite = 0
  readonly errors = new Map<string, number>()
  readonly latency = new LatencyHistogram()

  calls(): PhaseCalls {
    const calls: Record<string, number> = { ok: this.ok, stop: this.stop, rewrite: this.rewrite }
    for (const [code, count] of this.errors) calls[code] = count
    return calls as PhaseCalls
  }
}

/** What the runner client and the ext-plugin-* plugins count; one per ExtPlugin. */
export class RunnerCounters {
  readonly #phases: Readonly<Record<Phase, PhaseCounters>> = {
    rewrite: new PhaseCounters(),
    access: new PhaseCounters(),
    response: new PhaseCounters(),
  }
  prepareConfOk = 0
  prepareConfError = 0
  tokenHits = 0
  tokenMisses = 0
  confTokenRetries = 0
  staleRetries = 0
  degradations = 0
  unavailable = 0

  /** performance.now() at the end of the last successful runner call, for health(). */
  lastSuccess: number | undefined = undefined

  called(phase: Phase, outcome: CallOutcome, ms: number): void {
    this.lastSuccess = performance.now()
    const counters = this.#phases[phase]
    counters[outcome]++
    counters.latency.observe(ms)
  }

  /** performance.now() at the end of the last failed runner call, for health(). */
  lastFailure: number | undefined = undefined

  failed(phase: Phase, code: string, ms: number): void {
    this.lastFailure = performance.now()
    const counters = this.#phases[phase]
    counters.errors.set(code, (counters.errors.get(code) ?? 0) + 1)
    counters.latency.observe(ms)
  }

  /** The counted part of ExtPluginStats; the gauges come from the pool and the process. */
  snapshot(): Pick<ExtPluginStats, 'calls' | 'latency' | 'prepareConf' | 'retries' | 'degradations' | 'unavailable'> & {
    readonly tokenCache: { readonly hits: number; readonly misses: number }
  } {
    const { rewrite, access, response } = this.#phases
    return {
      calls: { rewrite: rewrite.calls(), access: access.calls(), response: response.calls() },
      latency: { rewrite: rewrite.latency.snapshot(), access: access.latency.snapshot(), response: response.latency.snapshot() },
      prepareConf: { ok: this.prepareConfOk, error: this.prepareConfError },
      tokenCache: { hits: this.tokenHits, misses: this.tokenMisses },
      retries: { confTokenNotFound: this.confTokenRetries, staleConnection: this.staleRetries },
      degradations: this.degradations,
      unavailable: this.unavailable,
    }
  }
}

/** The stable code of a failure, for counting and for contexts. */
export function failureCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  // only a bug of ours throws without a code; it still gets a countable label
  return typeof code === 'string' ? code : 'error'
}
