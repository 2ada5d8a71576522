// HTTP throughput: autocannon against each target server, every target of a group measured
// in turn within each round (round-robin), so that drift in the machine's speed hits all
// alike. The main group holds the floor (bare node:http plus one raw round trip per request
// to the Go echo) beside the middleware's variants, so the "vs floor" figures come from
// the same rounds.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { buildGoPrograms } from './paths.js'

export interface HttpRun {
  readonly req_per_s: number
  readonly p50_ms: number
  readonly p99_ms: number
  /** CPU time the server process spent per request, in µs (user + system). */
  readonly server_cpu_us?: number
  /** CPU time the server's child processes (the runner, or the floor's echo) spent per request, in µs. */
  readonly runner_cpu_us?: number
}

export interface HttpPair {
  readonly name: string
  readonly bare: HttpRun
  readonly ext: HttpRun
  readonly ratio: number
}

/** Figures against the floor (issue 14): see BENCHMARKS.md for each definition. */
export interface FloorFigures {
  readonly floor: HttpRun
  /** The floor with the echo answering in two writes, as the Go runner v0.5.0 does. */
  readonly floor_split: HttpRun
  readonly ts_runner: HttpRun
  readonly floor_ratio: number
  readonly http_vs_floor: number
  readonly overhead_vs_floor: number
  /** overhead_vs_floor against the split-write floor: the Go runner's second write counted as the runner's. */
  readonly overhead_vs_split_floor: number
  /** Express with the same raw round trip in a middleware: what one round trip costs an Express server. */
  readonly express_floor: HttpRun
  /** (Express pre-req − Express bare) ÷ (Express floor − Express bare): Express's overhead_vs_floor. */
  readonly express_overhead_vs_express_floor: number
  /** express_extra_vs_floor with each adapter measured over its own floor: ((Express pre-req − Express floor) − (pre-req − floor)) ÷ (floor − bare). */
  readonly express_extra_over_own_floor: number
  readonly post_resp_extra_vs_floor: number
  readonly express_extra_vs_floor: number
  readonly ts_runner_vs_go: number
}

export interface HttpResults {
  readonly pairs: HttpPair[]
  readonly floor: FloorFigures
}

const SERVER = fileURLToPath(new URL('server.ts', import.meta.url))

export async function startServer(framework: string, variant: string, body: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, framework, variant, String(body)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  })
  const [line] = (await once(child.stdout!, 'data')) as [Buffer]
  const { port } = JSON.parse(line.toString()) as { port: number }
  return { url: `http://127.0.0.1:${port}/`, child }
}

export async function stopServer(server: { child: ChildProcess }): Promise<void> {
  server.child.kill('SIGTERM')
  await once(server.child, 'exit')
}

export async function cannon(url: string, seconds: number, connections: number, server?: ChildProcess): Promise<HttpRun> {
  const pids = server ? processTree(server.pid!) : []
  const before = pids.map(cpuMicros)
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 })
  const run: HttpRun = { req_per_s: result.requests.average, p50_ms: result.latency.p50, p99_ms: result.latency.p99 }
  if (pids.length === 0 || result.requests.total === 0) return run
  const spent = pids.map((pid, i) => cpuMicros(pid) - before[i]!)
  const children = spent.slice(1).reduce((a, b) => a + b, 0)
  return { ...run, server_cpu_us: spent[0]! / result.requests.total, ...(pids.length > 1 ? { runner_cpu_us: children / result.requests.total } : {}) }
}

/**
 * The server and its children: the runner (and the runner's watcher, a shell that sleeps
 * in read(2)), or the floor's echo. Children's CPU is added up, so that which child comes
 * first does not matter.
 */
function processTree(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  return [pid, ...children]
}

/** user + system CPU of a process, in µs (clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return 0
  }
}

function mean(runs: HttpRun[]): HttpRun {
  const avg = (pick: (r: HttpRun) => number | undefined) => runs.reduce((sum, r) => sum + (pick(r) ?? NaN), 0) / runs.length
  const run: HttpRun = { req_per_s: avg((r) => r.req_per_s), p50_ms: avg((r) => r.p50_ms), p99_ms: avg((r) => r.p99_ms) }
  const runner = avg((r) => r.runner_cpu_us)
  return { ...run, server_cpu_us: avg((r) => r.server_cpu_us), ...(Number.isFinite(runner) ? { runner_cpu_us: runner } : {}) }
}

interface Target {
  readonly framework: string
  readonly variant: string
  readonly body: number
}

/** Every target started, warmed, then measured `rounds` times in turn. */
async function roundRobin(targets: Record<string, Target>, rounds: number, seconds: number, warm: number): Promise<Record<string, HttpRun>> {
  const names = Object.keys(targets)
  const servers = await Promise.all(names.map((name) => startServer(targets[name]!.framework, targets[name]!.variant, targets[name]!.body)))
  try {
    for (const server of servers) await cannon(server.url, warm, 10)
    const runs: HttpRun[][] = names.map(() => [])
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < servers.length; i++) runs[i]!.push(await cannon(servers[i]!.url, seconds, 10, servers[i]!.child))
    }
    return Object.fromEntries(names.map((name, i) => [name, mean(runs[i]!)]))
  } finally {
    await Promise.all(servers.map(stopServer))
  }
}

const KiB = 1024
const MAIN: Record<string, Target> = {
  'http bare': { framework: 'http', variant: 'bare', body: 12 },
  'http floor': { framework: 'http', variant: 'floor', body: 12 },
  'http floor split': { framework: 'http', variant: 'floor-split', body: 12 },
  'http pre-req': { framework: 'http', variant: 'pre-req', body: 12 },
  'http pre-req ts': { framework: 'http', variant: 'pre-req-ts', body: 12 },
  'http bare 1 KiB': { framework: 'http', variant: 'bare', body: KiB },
  'http post-resp 1 KiB': { framework: 'http', variant: 'post-resp', body: KiB },
  'express bare': { framework: 'express', variant: 'bare', body: 12 },
  'express pre-req': { framework: 'express', variant: 'pre-req', body: 12 },
  'express floor': { framework: 'express', variant: 'floor', body: 12 },
  'koa bare': { framework: 'koa', variant: 'bare', body: 12 },
  'koa pre-req': { framework: 'koa', variant: 'pre-req', body: 12 },
}
const LARGE: Record<string, Target> = {
  'http bare 1 MiB': { framework: 'http', variant: 'bare', body: 1 << 20 },
  'http post-resp 1 MiB': { framework: 'http', variant: 'post-resp', body: 1 << 20 },
}

const cpu = (run: HttpRun): number => run.server_cpu_us ?? NaN

export async function runHttp(quick: boolean): Promise<HttpResults> {
  buildGoPrograms()
  const rounds = quick ? 2 : 3
  const seconds = quick ? 1.5 : 4
  const r = await roundRobin(MAIN, rounds, seconds, quick ? 0.5 : 1)
  const large = await roundRobin(LARGE, 2, quick ? 1.5 : 3, quick ? 0.5 : 1)
  const pair = (name: string, bare: HttpRun, ext: HttpRun): HttpPair => ({ name, bare, ext, ratio: ext.req_per_s / bare.req_per_s })
  const pairs = [
    pair('express pre-req', r['express bare']!, r['express pre-req']!),
    pair('express floor', r['express bare']!, r['express floor']!),
    pair('koa pre-req', r['koa bare']!, r['koa pre-req']!),
    pair('http pre-req', r['http bare']!, r['http pre-req']!),
    pair('http pre-req, ts runner', r['http bare']!, r['http pre-req ts']!),
    pair('http floor', r['http bare']!, r['http floor']!),
    pair('http floor, split writes', r['http bare']!, r['http floor split']!),
    pair('http post-resp 1 KiB', r['http bare 1 KiB']!, r['http post-resp 1 KiB']!),
    pair('http post-resp 1 MiB', large['http bare 1 MiB']!, large['http post-resp 1 MiB']!),
  ]
  const bare = r['http bare']!
  const floor = r['http floor']!
  const pre = r['http pre-req']!
  const floorCost = cpu(floor) - cpu(bare)
  // The response phase's own extra: post-resp over its bare twin (same body), less what the
  // request phase costs over its bare twin, both for one runner call.
  const postExtra = cpu(r['http post-resp 1 KiB']!) - cpu(r['http bare 1 KiB']!) - (cpu(pre) - cpu(bare))
  const expressExtra = cpu(r['express pre-req']!) - cpu(r['express bare']!) - (cpu(pre) - cpu(bare))
  const expressFloor = r['express floor']!
  const expressOverOwnFloor = cpu(r['express pre-req']!) - cpu(expressFloor) - (cpu(pre) - cpu(floor))
  return {
    pairs,
    floor: {
      floor,
      floor_split: r['http floor split']!,
      ts_runner: r['http pre-req ts']!,
      floor_ratio: floor.req_per_s / bare.req_per_s,
      http_vs_floor: pre.req_per_s / floor.req_per_s,
      overhead_vs_floor: (cpu(pre) - cpu(bare)) / floorCost,
      overhead_vs_split_floor: (cpu(pre) - cpu(bare)) / (cpu(r['http floor split']!) - cpu(bare)),
      post_resp_extra_vs_floor: postExtra / floorCost,
      express_extra_vs_floor: expressExtra / floorCost,
      express_floor: expressFloor,
      express_overhead_vs_express_floor: (cpu(r['express pre-req']!) - cpu(r['express bare']!)) / (cpu(expressFloor) - cpu(r['express bare']!)),
      express_extra_over_own_floor: expressOverOwnFloor / floorCost,
      ts_runner_vs_go: (r['http pre-req ts']!.runner_cpu_us ?? NaN) / (pre.runner_cpu_us ?? NaN),
    },
  }
}
