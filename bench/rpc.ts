// RPC round trips: our pooled HTTPReqCall against the real Go runner (a no-op plugin), beside
// a raw Unix-socket echo of the same frame between the same two kinds of process (Node and
// Go), in the same run, at several concurrencies.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import * as P from '../src/protocol/index.js'
import { RunnerClient } from '../src/rpc/client.js'
import { RunnerProcess } from '../src/runner/process.js'
import { reqCall } from './fixtures.js'
import { percentile } from './measure.js'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
export const GO_RUNNER = here('../test/interop/go-runner/bin/go-runner')
const GO_ECHO_DIR = here('go-echo')
const GO_ECHO = here('go-echo/bin/go-echo')

export interface RpcResult {
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

export function buildGoPrograms(): void {
  if (!existsSync(GO_RUNNER)) spawnSync(process.execPath, [here('../test/interop/build-go-runner.mjs')], { stdio: 'inherit' })
  if (!existsSync(GO_ECHO)) spawnSync('go', ['build', '-o', 'bin/go-echo', '.'], { cwd: GO_ECHO_DIR, stdio: 'inherit' })
  if (!existsSync(GO_RUNNER) || !existsSync(GO_ECHO)) throw new Error('the benchmarks need Go to build test/interop/go-runner and bench/go-echo')
}

/** Runs `call` from `concurrency` loops for `ms`; latencies of every call. */
async function load(concurrency: number, ms: number, call: (lane: number) => Promise<void>): Promise<LoadResult> {
  const latencies: number[] = []
  const end = performance.now() + ms
  let calls = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (performance.now() < end) {
        const t0 = performance.now()
        await call(lane)
        latencies.push(performance.now() - t0)
        calls++
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { p50_us: percentile(latencies, 50) * 1000, p99_us: percentile(latencies, 99) * 1000, calls_per_s: calls / elapsed }
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

export async function runRpc(quick: boolean): Promise<RpcResult[]> {
  buildGoPrograms()
  const runner = new RunnerProcess({ cmd: [GO_RUNNER], env: { GO_RUNNER_LOG_LEVEL: 'error' } })
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
    for (const concurrency of [1, 16, 64]) {
      const lanes = await Promise.all(
        Array.from({ length: concurrency }, () => new Promise<EchoLane>((resolve) => {
          const socket = connect(echo.socketPath, () => resolve(new EchoLane(socket)))
        })),
      )
      // warm both paths, then measure each in turn
      await load(concurrency, 300, (lane) => lanes[lane]!.echo(frame))
      await load(concurrency, 300, () => client.httpReqCall(conf, request).then(() => {}))
      const raw = await load(concurrency, ms, (lane) => lanes[lane]!.echo(frame))
      const rpc = await load(concurrency, ms, () => client.httpReqCall(conf, request).then(() => {}))
      for (const lane of lanes) lane.close()
      results.push({ concurrency, raw, rpc, ratio_p50: rpc.p50_us / raw.p50_us })
    }
  } finally {
    client.destroy()
    await Promise.all([runner.close(), echo.close()])
  }
  return results
}
