// Scale: Express with a no-op ext-plugin-pre-req (real Go runner) from 1 to 256 concurrent
// connections, the server's resident memory before and after a long run, and what a body
// held for a runner costs: the server's peak RSS while 8 clients at once send 8 MiB bodies
// that the TypeScript runner reads (ExtraInfo ReqBody) before the application reads them again.
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import { request } from 'undici'
import { cannon, startServer, stopServer, type HttpRun } from './http.js'
import { buildGoPrograms } from './rpc.js'

export interface ScaleResult {
  readonly steps: Array<{ readonly connections: number } & HttpRun>
  readonly rss: { readonly requests: number; readonly before_mib: number; readonly after_mib: number; readonly growth_mib: number; readonly bound_mib: number }
  readonly held_body: HeldBodyResult
}

export interface HeldBodyResult {
  readonly clients: number
  readonly body_mib: number
  readonly before_mib: number
  readonly peak_mib: number
  /** Peak growth ÷ the bytes of all bodies in flight: what one held byte costs. */
  readonly cost_per_byte: number
}

/** Growth we accept after the run: pools and caches are bounded, so it must stay flat. */
export const RSS_GROWTH_BOUND_MIB = 32

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) / 1024 : NaN
}

export async function runScale(quick: boolean): Promise<ScaleResult> {
  buildGoPrograms()
  const server = await startServer('express', 'pre-req', 12)
  try {
    const steps: ScaleResult['steps'] = []
    for (const connections of [1, 4, 16, 64, 256]) {
      steps.push({ connections, ...(await cannon(server.url, quick ? 1.5 : 5, connections)) })
    }
    await autocannon({ url: server.url, connections: 32, amount: 20_000 })
    const before = rssMiB(server.child.pid!)
    const requests = quick ? 50_000 : 200_000
    await autocannon({ url: server.url, connections: 32, amount: requests })
    const after = rssMiB(server.child.pid!)
    return {
      steps,
      rss: { requests, before_mib: before, after_mib: after, growth_mib: after - before, bound_mib: RSS_GROWTH_BOUND_MIB },
      held_body: await heldBody(quick ? 2 : 3),
    }
  } finally {
    await stopServer(server)
  }
}

/** Peak RSS of a node:http server while 8 clients send 8 MiB bodies its (TypeScript) runner reads. */
export async function heldBody(rounds: number): Promise<HeldBodyResult> {
  const clients = 8
  const size = 8 << 20
  const body = Buffer.alloc(size, 'b')
  const server = await startServer('http', 'read-body', 12)
  const pid = server.child.pid!
  try {
    const send = async (): Promise<void> => {
      const res = await request(server.url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
      const text = await res.body.text()
      if (res.statusCode !== 200) throw new Error(`read-body answered ${res.statusCode}: ${text.slice(0, 200)}`)
    }
    await send() // warm-up: the first held body grows the heap once
    await new Promise((resolve) => setTimeout(resolve, 200))
    const before = rssMiB(pid)
    let peak = before
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 5)
    for (let round = 0; round < rounds; round++) await Promise.all(Array.from({ length: clients }, send))
    clearInterval(sampler)
    const total = (clients * size) / 2 ** 20
    return { clients, body_mib: size / 2 ** 20, before_mib: before, peak_mib: peak, cost_per_byte: (peak - before) / total }
  } finally {
    await stopServer(server)
  }
}
