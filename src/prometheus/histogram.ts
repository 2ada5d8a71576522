// A histogram whose buckets are already counted (by ext.stats()): prom-client's Histogram
// can only observe, so this object gives the registry the metric shape it formats
// (`get()` → name, help, type, values with `metricName`), read at scrape time.
import type { HistogramSnapshot } from '../diagnostics/histogram.js'

interface Value {
  readonly value: number
  readonly labels: Record<string, string | number>
  readonly metricName: string
}

export interface ScrapedHistogramOptions<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelName: L
  /** Called at each scrape: one cumulative snapshot (ms) per value of the label. */
  readonly collect: () => ReadonlyArray<readonly [label: string, snapshot: HistogramSnapshot]>
}

/** Exposes millisecond snapshots in seconds, the base unit Prometheus names expect. */
export class ScrapedHistogram<L extends string> {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  /** How prom-client's AggregatorRegistry merges workers' values: buckets add up. */
  readonly aggregator = 'sum'
  readonly #options: ScrapedHistogramOptions<L>

  constructor(options: ScrapedHistogramOptions<L>) {
    this.name = options.name
    this.help = options.help
    this.#options = options
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Value[] }> {
    const { name, labelName } = this.#options
    const values: Value[] = []
    for (const [label, snapshot] of this.#options.collect()) {
      for (const bucket of snapshot.buckets) {
        const le = bucket.le === Infinity ? '+Inf' : bucket.le / 1000
        values.push({ value: bucket.count, labels: { le, [labelName]: label }, metricName: `${name}_bucket` })
      }
      values.push({ value: snapshot.sum / 1000, labels: { [labelName]: label }, metricName: `${name}_sum` })
      values.push({ value: snapshot.count, labels: { [labelName]: label }, metricName: `${name}_count` })
    }
    return { name, help: this.help, type: 'histogram', aggregator: 'sum', values }
  }

  /** registry.resetMetrics() calls it; the counts belong to ext.stats(), which never resets. */
  reset(): void {}
}
