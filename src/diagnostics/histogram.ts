// A fixed-bucket latency histogram in milliseconds. Observing is a short scan over a small
// array (runner calls mostly land in the first buckets); snapshots are cumulative, as
// Prometheus exposes them, so `registerMetrics` passes them through unchanged.

/**
 * Upper bounds in ms. Below 1 ms because a runner call over a Unix socket usually takes
 * tens of microseconds; from 1 ms to 60 s the range of APISIX's prometheus plugin
 * (`apisix_http_latency`), with fewer steps.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000]

export interface HistogramBucket {
  /** Upper bound in ms ("less or equal"); the last bucket's is Infinity. */
  readonly le: number
  /** Observations ≤ le (cumulative). */
  readonly count: number
}

export interface HistogramSnapshot {
  /** Cumulative, in increasing `le`, ending with `le: Infinity` (equal to `count`). */
  readonly buckets: readonly HistogramBucket[]
  /** Sum of all observations, ms. */
  readonly sum: number
  readonly count: number
}

export class LatencyHistogram {
  readonly #bounds: readonly number[]
  /** Per-bucket counts, not cumulative; the last slot is the +Inf overflow. */
  readonly #counts: Float64Array
  #sum = 0
  #count = 0

  constructor(bounds: readonly number[] = LATENCY_BUCKETS_MS) {
    this.#bounds = bounds
    this.#counts = new Float64Array(bounds.length + 1)
  }

  observe(ms: number): void {
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && ms > bounds[i]!) i++
    this.#counts[i]!++
    this.#sum += ms
    this.#count++
  }

  snapshot(): HistogramSnapshot {
    const buckets: HistogramBucket[] = []
    let cumulative = 0
    for (let i = 0; i <= this.#bounds.length; i++) {
      cumulative += this.#counts[i]!
      buckets.push({ le: i < this.#bounds.length ? this.#bounds[i]! : Infinity, count: cumulative })
    }
    return { buckets, sum: this.#sum, count: this.#count }
  }
}
