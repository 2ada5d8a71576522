// A micro-benchmark loop: calibrate a batch that takes ~5 ms, time many batches, report the
// median per operation. Batching keeps timer resolution and call overhead out of sub-µs
// figures, which per-iteration timing (as most bench libraries do) cannot.
export interface Measurement {
  /** Median nanoseconds per operation. */
  readonly ns: number
  readonly samples: number
}

export function measure(fn: () => void, budgetMs: number): Measurement {
  // Warm up first, so that the optimising compiler has settled before anything is timed.
  const warm = performance.now() + Math.max(100, budgetMs / 4)
  while (performance.now() < warm) for (let i = 0; i < 100; i++) fn()
  let batch = 1
  for (;;) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) fn()
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    if (ms >= 5) break
    batch *= ms < 0.5 ? 10 : 2
  }
  const perOp: number[] = []
  const end = performance.now() + budgetMs
  while (performance.now() < end || perOp.length < 5) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) fn()
    perOp.push(Number(process.hrtime.bigint() - start) / batch)
  }
  perOp.sort((a, b) => a - b)
  return { ns: perOp[perOp.length >> 1]!, samples: perOp.length }
}

/** Percentile of sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
