// `npm run bench [-- --quick] [-- --only codec,rpc,http,scale,diagnostics]`: runs the
// benchmarks (all five by default), prints a table and writes bench/results.json (method
// and figures: BENCHMARKS.md).
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { runCodec } from './codec.js'
import { runDiagnostics } from './diagnostics.js'
import { runHttp } from './http.js'
import { runRpc } from './rpc.js'
import { runScale } from './scale.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const onlyAt = args.indexOf('--only')
const onlyArg = args.find((a) => a.startsWith('--only='))?.slice(7) ?? (onlyAt >= 0 ? args[onlyAt + 1] : undefined)
const only = new Set((onlyArg ?? 'codec,rpc,http,scale,diagnostics').split(','))
const started = Date.now()
const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a')

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  quick,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memory_gib: +(totalmem() / 2 ** 30).toFixed(1), node: process.version },
}

if (only.has('codec')) {
  const codec = await runCodec(quick)
  results.codec = codec
  results.encode_us = codec[0]!.ours_ns / 1000
  console.log('\ncodec'.padEnd(64) + 'ours        generated (naive)')
  for (const r of codec) console.log(`  ${r.name.padEnd(60)} ${fmt(r.ours_ns / 1000, 3).padStart(9)} µs ${fmt(r.baseline_ns / 1000, 3).padStart(10)} µs`)
}

if (only.has('rpc')) {
  const rpc = await runRpc(quick)
  results.rpc = rpc
  results.rpc_vs_raw_p50 = rpc[0]!.ratio_p50
  results.rpc_vs_raw_p50_ts_runner = rpc.find((r) => r.runner === 'ts')?.ratio_p50
  console.log('\nrpc (no-op plugin)        raw echo p50/p99 (calls/s)        pooled HTTPReqCall p50/p99 (calls/s)   ratio p50')
  for (const r of rpc) {
    console.log(
      `  ${r.runner} runner, concurrency ${String(r.concurrency).padEnd(3)} ${fmt(r.raw.p50_us, 1)}/${fmt(r.raw.p99_us, 1)} µs (${fmt(r.raw.calls_per_s, 0)})`.padEnd(58) +
        `${fmt(r.rpc.p50_us, 1)}/${fmt(r.rpc.p99_us, 1)} µs (${fmt(r.rpc.calls_per_s, 0)})`.padEnd(38) +
        fmt(r.ratio_p50),
    )
  }
}

if (only.has('http')) {
  const { pairs: http, floor } = await runHttp(quick)
  results.http = http
  results.express_ratio = http.find((p) => p.name === 'express pre-req')?.ratio
  results.koa_ratio = http.find((p) => p.name === 'koa pre-req')?.ratio
  results.http_ratio = http.find((p) => p.name === 'http pre-req')?.ratio
  const { floor: floorRun, floor_split: floorSplitRun, express_floor: expressFloorRun, ts_runner: _ts, ...figures } = floor
  results.http_floor = floorRun
  results.http_floor_split = floorSplitRun
  results.express_floor = expressFloorRun
  Object.assign(results, figures)
  console.log('\nhttp (autocannon, 10 connections)   bare req/s (p50/p99 ms)     with middleware req/s (p50/p99 ms)   ratio   CPU µs/request: server bare → with, runner')
  for (const p of http) {
    console.log(
      `  ${p.name.padEnd(26)} ${fmt(p.bare.req_per_s, 0).padStart(8)} (${fmt(p.bare.p50_ms, 2)}/${fmt(p.bare.p99_ms, 2)})`.padEnd(60) +
        `${fmt(p.ext.req_per_s, 0).padStart(8)} (${fmt(p.ext.p50_ms, 2)}/${fmt(p.ext.p99_ms, 2)})`.padEnd(32) +
        fmt(p.ratio).padEnd(8) +
        `${fmt(p.bare.server_cpu_us ?? NaN, 0)} → ${fmt(p.ext.server_cpu_us ?? NaN, 0)}, ${fmt(p.ext.runner_cpu_us ?? NaN, 0)}`,
    )
  }
  console.log('\nagainst the floor (bare node:http + one raw round trip to the Go echo)        measured   target')
  const row = (name: string, value: number, target: string) => console.log(`  ${name.padEnd(74)} ${fmt(value).padStart(8)}   ${target}`)
  row('floor_ratio (floor ÷ bare req/s)', figures.floor_ratio, '')
  row('http_vs_floor (no-op pre-req ÷ floor req/s)', figures.http_vs_floor, '≥ 0.85')
  row('overhead_vs_floor ((pre-req − bare) ÷ (floor − bare) server CPU)', figures.overhead_vs_floor, '≤ 1.3')
  row('overhead_vs_split_floor (the same over the floor answered in two writes, as the Go runner)', figures.overhead_vs_split_floor, '')
  row('post_resp_extra_vs_floor (response phase, 1 KiB, over the request phase)', figures.post_resp_extra_vs_floor, '≤ 0.3')
  row('express_extra_vs_floor (Express adapter over the node:http adapter)', figures.express_extra_vs_floor, '≤ 0.3')
  row('express_overhead_vs_express_floor (Express: (pre-req − bare) ÷ (Express floor − bare))', figures.express_overhead_vs_express_floor, '')
  row('express_extra_over_own_floor (each adapter over its own floor, ÷ (floor − bare))', figures.express_extra_over_own_floor, '')
  row('ts_runner_vs_go (runner CPU per no-op call, ours ÷ Go)', figures.ts_runner_vs_go, '≤ 1')
}

if (only.has('scale')) {
  const scale = await runScale(quick)
  results.scale = scale
  console.log('\nscale (express + no-op pre-req)')
  for (const s of scale.steps) console.log(`  ${String(s.connections).padStart(3)} connections: ${fmt(s.req_per_s, 0)} req/s, p50 ${s.p50_ms} ms, p99 ${s.p99_ms} ms`)
  const r = scale.rss
  console.log(`  RSS ${fmt(r.before_mib, 1)} MiB → ${fmt(r.after_mib, 1)} MiB after ${r.requests} requests (growth ${fmt(r.growth_mib, 1)} MiB, bound ${r.bound_mib} MiB)`)
  const h = scale.held_body
  results.held_body_cost = h.cost_per_byte
  console.log(`  ${h.clients} concurrent ${h.body_mib} MiB bodies read by the runner (node:http): RSS ${fmt(h.before_mib, 1)} → peak ${fmt(h.peak_mib, 1)} MiB, ${fmt(h.cost_per_byte)}× the bytes in flight (target ≤ 2)`)
}

if (only.has('diagnostics')) {
  const diagnostics = await runDiagnostics(quick)
  results.diagnostics = diagnostics
  console.log('\ndiagnostics (runner-call channel, HTTPReqCall to the TypeScript runner, sequential)   CPU µs/call   wall µs/call')
  for (const v of diagnostics.variants) console.log(`  ${v.name.padEnd(84)} ${fmt(v.cpu_us).padStart(8)}   ${fmt(v.wall_us).padStart(8)}`)
  console.log(`  extra CPU per call: no-op subscriber ${fmt(diagnostics.noop_extra_cpu_us)} µs, span subscriber ${fmt(diagnostics.span_extra_cpu_us)} µs; ext.stats() counting ${fmt(diagnostics.counting_ns, 1)} ns; the unsubscribed check ${fmt(diagnostics.unsubscribed_check_ns, 1)} ns`)
}

results.seconds = (Date.now() - started) / 1000
writeFileSync(fileURLToPath(new URL('results.json', import.meta.url)), JSON.stringify(results, null, 2) + '\n')
console.log(`\n${fmt(results.seconds as number, 0)} s; written to bench/results.json`)
