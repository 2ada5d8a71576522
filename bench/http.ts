// HTTP throughput: autocannon against each framework bare and with the middleware, the two
// twins measured alternately so that drift in the machine's speed hits both alike.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { buildGoPrograms } from './rpc.js'

export interface HttpRun {
  readonly req_per_s: number
  readonly p50_ms: number
  readonly p99_ms: number
  /** CPU time the server process spent per request, in µs (user + system). */
  readonly server_cpu_us?: number
  /** CPU time the runner process spent per request, in µs. */
  readonly runner_cpu_us?: number
}

export interface HttpPair {
  readonly name: string
  readonly bare: HttpRun
  readonly ext: HttpRun
  readonly ratio: number
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
  const perRequest = (i: number) => (cpuMicros(pids[i]!) - before[i]!) / result.requests.total
  return { ...run, server_cpu_us: perRequest(0), ...(pids.length > 1 ? { runner_cpu_us: perRequest(1) } : {}) }
}

/** The server and, if it started one, its runner. */
function processTree(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  return [pid, ...children.slice(0, 1)]
}

/** user + system CPU of a process, in µs (clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return NaN
  }
}

function mean(runs: HttpRun[]): HttpRun {
  const avg = (pick: (r: HttpRun) => number | undefined) => runs.reduce((sum, r) => sum + (pick(r) ?? NaN), 0) / runs.length
  const run: HttpRun = { req_per_s: avg((r) => r.req_per_s), p50_ms: avg((r) => r.p50_ms), p99_ms: avg((r) => r.p99_ms) }
  const runner = avg((r) => r.runner_cpu_us)
  return { ...run, server_cpu_us: avg((r) => r.server_cpu_us), ...(Number.isFinite(runner) ? { runner_cpu_us: runner } : {}) }
}

/** `bare` and `variant` of one framework, alternated `rounds` times. */
async function pair(framework: string, variant: string, body: number, rounds: number, seconds: number): Promise<HttpPair> {
  const bare = await startServer(framework, 'bare', body)
  const ext = await startServer(framework, variant, body)
  try {
    await cannon(bare.url, 1, 10) // warm-up
    await cannon(ext.url, 1, 10)
    const bareRuns: HttpRun[] = []
    const extRuns: HttpRun[] = []
    for (let i = 0; i < rounds; i++) {
      bareRuns.push(await cannon(bare.url, seconds, 10, bare.child))
      extRuns.push(await cannon(ext.url, seconds, 10, ext.child))
    }
    const b = mean(bareRuns)
    const e = mean(extRuns)
    const label = body === 12 ? `${framework} ${variant}` : `${framework} ${variant} ${body >= 1 << 20 ? `${body >> 20} MiB` : `${body >> 10} KiB`}`
    return { name: label, bare: b, ext: e, ratio: e.req_per_s / b.req_per_s }
  } finally {
    await Promise.all([stopServer(bare), stopServer(ext)])
  }
}

export async function runHttp(quick: boolean): Promise<HttpPair[]> {
  buildGoPrograms()
  const rounds = quick ? 2 : 4
  const seconds = quick ? 1.5 : 8
  const pairs: HttpPair[] = []
  for (const framework of ['express', 'koa', 'http']) pairs.push(await pair(framework, 'pre-req', 12, rounds, seconds))
  for (const body of [1024, 1 << 20]) pairs.push(await pair('http', 'post-resp', body, rounds, seconds))
  return pairs
}
