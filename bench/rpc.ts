// RPC round trips: our pooled HTTPReqCall against the real Go runner (a no-op plugin), beside
// a raw Unix-socket echo of the same frame between the same two kinds of process (Node and
// Go), in the same run, at several concurrencies.
import { connect, type Socket } from 'node:net'
import * as P from '../src/protocol/index.js'
import { RunnerClient } from '../src/rpc/client.js'
import { RunnerProcess } from '../src/runner/process.js'
import { reqCall } from './fixtures.js'
import { percentile } from './measure.js'
import { buildGoPrograms, GO_ECHO, GO_RUNNER, tsRunnerCmd } from './paths.js'

export { buildGoPrograms, GO_RUNNER } from './paths.js'

export interface RpcResult {
  /** Which runner answered the pooled calls. */
  readonly runner: 'go' | 'ts'
  readonly concurrency: number
  readonly raw: LoadResult
  readonly rpc: LoadResult
  readonly ratio_p50: number
}

export interface LoadResult {
  readonly p50_us: number
  readonly p99_us: number
  readonly calls_per_s: number
}

interface Samples {
  readonly latencies: number[]
  readonly calls: number
  readonly seconds: number
}

/** Runs `call` from `concurrency` loops for `ms`; latencies of every call. */
async function sample(concurrency: number, ms: number, call: (lane: number) => Promise<void>): Promise<Samples> {
  const latencies: number[] = []
  const started = performance.now()
  const end = started + ms
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (performance.now() < end) {
        const t0 = performance.now()
        await call(lane)
        latencies.push(performance.now() - t0)
      }
    }),
  )
  return { latencies, calls: latencies.length, seconds: (performance.now() - started) / 1000 }
}

function summarize(rounds: Samples[]): LoadResult {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b)
  const calls = rounds.reduce((n, r) => n + r.calls, 0)
  const seconds = rounds.reduce((n, r) => n + r.seconds, 0)
  return { p50_us: percentile(latencies, 50) * 1000, p99_us: percentile(latencies, 99) * 1000, calls_per_s: calls / seconds }
}

async function load(concurrency: number, ms: number, call: (lane: number) => Promise<void>): Promise<LoadResult> {
  return summarize([await sample(concurrency, ms, call)])
}

/** One socket doing strictly sequential echoes of `frame`. */
class EchoLane {
  readonly #socket: Socket
  #waiting: (() => void) | undefined
  constructor(socket: Socket) {
    this.#socket = socket
    const reader = new P.FrameReader(() => {
      const done = this.#waiting!
      this.#waiting = undefined
      done()
    })
    socket.on('data', (chunk: Buffer) => reader.push(chunk))
  }
  echo(frame: Buffer): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting = resolve
      this.#socket.write(frame)
    })
  }
  close(): void {
    this.#socket.destroy()
  }
}

/**
 * The Go runner at 1, 16 and 64 concurrent calls, then, at 1, this package's TypeScript runner:
 * it answers each call in one write where the Go runner uses two (header, then payload),
 * which shows how much of the distance to the raw echo is the runner's.
 */
export async function runRpc(quick: boolean): Promise<RpcResult[]> {
  buildGoPrograms()
  const results = await rpcAgainst('go', [GO_RUNNER], [1, 16, 64], quick)
  results.push(...(await rpcAgainst('ts', tsRunnerCmd(), [1], quick)))
  return results
}

async function rpcAgainst(name: 'go' | 'ts', cmd: string[], concurrencies: number[], quick: boolean): Promise<RpcResult[]> {
  const runner = new RunnerProcess({ cmd, env: { GO_RUNNER_LOG_LEVEL: 'error', ...(process.env.BENCH_SOURCE === 'src' ? { APISIX_EXT_PLUGIN_RUNNER_SOURCE: '1' } : {}) } })
  const echo = new RunnerProcess({ cmd: [GO_ECHO] })
  await Promise.all([runner.ready(), echo.ready()])
  const client = new RunnerClient({ socketPath: runner.socketPath, maxIdleConnections: 64 })
  const conf = { key: 'route#bench#ext-plugin-pre-req#1', conf: [{ name: 'noop', value: '{}' }] }
  const request = { srcIp: reqCall.srcIp, method: reqCall.method, path: reqCall.path, args: reqCall.args, headers: reqCall.headers }
  const frame = P.encodeHTTPReqCallRequest(reqCall)
  const ms = quick ? 1500 : 5000
  const results: RpcResult[] = []
  try {
    await client.httpReqCall(conf, request)
    for (const concurrency of concurrencies) {
      const lanes = await Promise.all(
        Array.from({ length: concurrency }, () => new Promise<EchoLane>((resolve) => {
          const socket = connect(echo.socketPath, () => resolve(new EchoLane(socket)))
        })),
      )
      // warm both paths, then alternate them (three rounds each) so that drift in the
      // machine's speed falls on both alike
      await load(concurrency, 300, (lane) => lanes[lane]!.echo(frame))
      await load(concurrency, 300, () => client.httpReqCall(conf, request).then(() => {}))
      const rawRounds: Samples[] = []
      const rpcRounds: Samples[] = []
      for (let round = 0; round < 3; round++) {
        rawRounds.push(await sample(concurrency, ms / 3, (lane) => lanes[lane]!.echo(frame)))
        rpcRounds.push(await sample(concurrency, ms / 3, () => client.httpReqCall(conf, request).then(() => {})))
      }
      const raw = summarize(rawRounds)
      const rpc = summarize(rpcRounds)
      for (const lane of lanes) lane.close()
      results.push({ runner: name, concurrency, raw, rpc, ratio_p50: rpc.p50_us / raw.p50_us })
    }
  } finally {
    client.destroy()
    await Promise.all([runner.close(), echo.close()])
  }
  return results
}
