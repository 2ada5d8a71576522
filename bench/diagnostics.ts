// Cost of diagnostics (BENCHMARKS.md "Cost of diagnostics"): a pooled HTTPReqCall to the
// TypeScript runner (its own process, a no-op plugin), one call at a time, with nobody
// subscribed to apisix-ext-plugin:runner-call, with no-op subscribers on all five events,
// and with a subscriber that keeps a span-like record (start time, duration, fields).
// Rounds of the three variants are interleaved so that drift hits them alike; the figures
// are medians over rounds of this process's CPU time per call (the cost publishing adds
// is CPU in this process) and of the wall time per call. Also, without any runner: the
// check an unobserved call makes, timed alone.
//
//   node --import tsx bench/diagnostics.ts [--quick]
import { fileURLToPath } from 'node:url'
import { runnerCallChannel, runnerCallTraced } from '../src/diagnostics/channels.js'
import type { RunnerCallContext } from '../src/diagnostics/contexts.js'
import { RunnerCounters } from '../src/diagnostics/stats.js'
import { createExtPlugin } from '../src/ext-plugin.js'
import type { RunnerConf } from '../src/rpc/client.js'
import { reqCallLines } from './fixtures.js'
import { measure } from './measure.js'

export interface DiagnosticsVariant {
  readonly name: 'unsubscribed' | 'noop subscriber' | 'span subscriber'
  /** Median CPU µs of this process per call (user + system). */
  readonly cpu_us: number
  /** Median wall µs per sequential call. */
  readonly wall_us: number
}

export interface DiagnosticsResult {
  readonly variants: readonly DiagnosticsVariant[]
  /** CPU µs a call gains with a subscriber, over the unsubscribed call. */
  readonly noop_extra_cpu_us: number
  readonly span_extra_cpu_us: number
  /** The unsubscribed call's check alone (`hasSubscribers` of the tracing channel), ns, before anyone ever subscribed. */
  readonly unsubscribed_check_ns: number
  /** The same after subscribers came and went (the channels' objects changed shape once). */
  readonly unsubscribed_check_after_ns: number
  /** Without I/O: an awaited call of a resolved promise through the check alone, and through tracePromise with the context built, µs. */
  readonly isolated: { readonly unsubscribed_us: number; readonly noop_subscriber_us: number; readonly span_subscriber_us: number }
  /** What ext.stats() counts per call, always: one clock read (the call's end), a token-lookup count, an outcome and a histogram observation, ns. */
  readonly counting_ns: number
  readonly rounds: number
  readonly calls_per_round: number
}

function timeCounting(quick: boolean): number {
  const counters = new RunnerCounters()
  // the call's start doubles as its deadline's clock reading: one more read, at the end;
  // the duration observed is a typical call's (the scan stops at the first buckets)
  return measure(() => {
    counters.tokenHits++
    const end = performance.now()
    counters.called('rewrite', 'ok', end - end + 0.03)
  }, quick ? 200 : 1000).ns
}

/** The publishing path alone: what #traced adds around a call, on a call that costs nothing. */
async function isolated(handlers: { noop: object; span: object }, quick: boolean): Promise<DiagnosticsResult['isolated']> {
  const answer = Promise.resolve({ id: 1 })
  const call = (): Promise<unknown> => answer
  const traced = (): Promise<unknown> => {
    if (!runnerCallTraced()) return call()
    // the same shape as the client's context
    const context: RunnerCallContext = {
      phase: 'rewrite',
      route: 'bench',
      plugin: 'ext-plugin-pre-req',
      confKey: 'route#bench#ext-plugin-pre-req#1',
      names: ['noop'],
      messageType: 'RPC_HTTP_REQ_CALL',
      extraInfoRounds: 0,
      bytesSent: 0,
      bytesReceived: 0,
      attempts: 1,
      outcome: 'ok',
      code: undefined,
    }
    return runnerCallChannel.tracePromise(() => call(), context)
  }
  const n = quick ? 50_000 : 200_000
  const time = async (subscriber: object | undefined): Promise<number> => {
    if (subscriber) runnerCallChannel.subscribe(subscriber as Parameters<typeof runnerCallChannel.subscribe>[0])
    for (let i = 0; i < n / 10; i++) await traced()
    const t0 = performance.now()
    for (let i = 0; i < n; i++) await traced()
    const us = ((performance.now() - t0) * 1000) / n
    if (subscriber) runnerCallChannel.unsubscribe(subscriber as Parameters<typeof runnerCallChannel.unsubscribe>[0])
    return us
  }
  const runs = { unsubscribed: [] as number[], noop: [] as number[], span: [] as number[] }
  for (let round = 0; round < 5; round++) {
    runs.unsubscribed.push(await time(undefined))
    runs.noop.push(await time(handlers.noop))
    runs.span.push(await time(handlers.span))
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!
  return { unsubscribed_us: median(runs.unsubscribed), noop_subscriber_us: median(runs.noop), span_subscriber_us: median(runs.span) }
}

const root = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url))

/** runnerCallTraced(), the whole cost of an unobserved call's publishing. */
function timeCheck(quick: boolean): number {
  let sink = 0
  const check = measure(() => {
    if (runnerCallTraced()) sink++
  }, quick ? 200 : 1000)
  if (sink !== 0) throw new Error('a subscriber was left behind')
  return check.ns
}

export async function runDiagnostics(quick: boolean): Promise<DiagnosticsResult> {
  const checkBefore = timeCheck(quick)
  const ext = createExtPlugin({
    runner: {
      cmd: [process.execPath, '--import', 'tsx', root('bin/apisix-ext-plugin-runner.mjs'), root('bench/noop-plugins.mjs')],
      env: { APISIX_EXT_PLUGIN_RUNNER_SOURCE: '1' },
    },
  })
  try {
    await ext.ready()
    const client = ext.client!
    // as the ext-plugin-pre-req plugin passes it: identity set once per config version
    const conf: RunnerConf = {
      key: 'route#bench#ext-plugin-pre-req#1-000000000000',
      conf: [{ name: 'noop', value: '{}' }],
      route: 'bench',
      plugin: 'ext-plugin-pre-req',
      phase: 'rewrite',
      names: ['noop'],
    }
    const request = { srcIp: reqCallLines.srcIp, method: reqCallLines.method, path: reqCallLines.path, args: reqCallLines.args, headers: reqCallLines.headers }
    const call = (): Promise<unknown> => client.httpReqCall(conf, request)

    const noop = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} }
    const spans: unknown[] = []
    const opened = new WeakMap<object, number>()
    const span = {
      start(message: unknown) {
        opened.set(message as object, performance.now())
      },
      end() {},
      asyncStart() {},
      asyncEnd(message: unknown) {
        const context = message as RunnerCallContext
        const record = {
          name: `${context.plugin} ${context.messageType}`,
          start: opened.get(context),
          duration: performance.now() - opened.get(context)!,
          attributes: { route: context.route, phase: context.phase, names: context.names, rounds: context.extraInfoRounds, sent: context.bytesSent, received: context.bytesReceived, code: context.code },
        }
        if (spans.length > 1000) spans.length = 0
        spans.push(record)
      },
      error() {},
    }
    const variants = [
      { name: 'unsubscribed', handlers: undefined },
      { name: 'noop subscriber', handlers: noop },
      { name: 'span subscriber', handlers: span },
    ] as const

    const callsPerRound = quick ? 2000 : 5000
    const rounds = quick ? 5 : 15
    for (let i = 0; i < 3000; i++) await call() // warm the pool, the token and the JIT
    const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]))
    const wall = new Map<string, number[]>(variants.map((v) => [v.name, []]))
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        if (variant.handlers) runnerCallChannel.subscribe(variant.handlers)
        const cpu0 = process.cpuUsage()
        const t0 = performance.now()
        for (let i = 0; i < callsPerRound; i++) await call()
        const elapsed = performance.now() - t0
        const used = process.cpuUsage(cpu0)
        if (variant.handlers) runnerCallChannel.unsubscribe(variant.handlers)
        cpu.get(variant.name)!.push((used.user + used.system) / callsPerRound)
        wall.get(variant.name)!.push((elapsed * 1000) / callsPerRound)
      }
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!
    const results: DiagnosticsVariant[] = variants.map((v) => ({ name: v.name, cpu_us: median(cpu.get(v.name)!), wall_us: median(wall.get(v.name)!) }))
    const checkAfter = timeCheck(quick)
    const alone = await isolated({ noop, span }, quick)
    const counting = timeCounting(quick)
    return {
      variants: results,
      noop_extra_cpu_us: results[1]!.cpu_us - results[0]!.cpu_us,
      span_extra_cpu_us: results[2]!.cpu_us - results[0]!.cpu_us,
      unsubscribed_check_ns: checkBefore,
      unsubscribed_check_after_ns: checkAfter,
      isolated: alone,
      counting_ns: counting,
      rounds,
      calls_per_round: callsPerRound,
    }
  } finally {
    await ext.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runDiagnostics(process.argv.includes('--quick'))
  const fmt = (n: number, digits = 2): string => n.toFixed(digits)
  console.log('runner-call publishing (HTTPReqCall to the TypeScript runner, sequential)   CPU µs/call   wall µs/call')
  for (const v of result.variants) console.log(`  ${v.name.padEnd(72)} ${fmt(v.cpu_us).padStart(8)}   ${fmt(v.wall_us).padStart(8)}`)
  console.log(`  extra CPU per call: no-op subscriber ${fmt(result.noop_extra_cpu_us)} µs, span subscriber ${fmt(result.span_extra_cpu_us)} µs`)
  const i = result.isolated
  console.log(`  ext.stats() counting per call (always on): ${fmt(result.counting_ns, 1)} ns`)
  console.log(`  without I/O (an awaited resolved promise): unsubscribed ${fmt(i.unsubscribed_us, 3)} µs, no-op subscriber ${fmt(i.noop_subscriber_us, 3)} µs, span subscriber ${fmt(i.span_subscriber_us, 3)} µs`)
  console.log(
    `  the unsubscribed check alone: ${fmt(result.unsubscribed_check_ns, 1)} ns, ${fmt(result.unsubscribed_check_after_ns, 1)} ns after subscribers came and went (${result.rounds} rounds of ${result.calls_per_round} calls)`,
  )
}
