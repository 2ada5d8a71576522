// Scale: Express with a no-op ext-plugin-pre-req (real Go runner) from 1 to 256 concurrent
// connections, and the server's resident memory before and after a long run.
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import { cannon, startServer, stopServer, type HttpRun } from './http.js'
import { buildGoPrograms } from './rpc.js'

export interface ScaleResult {
  readonly steps: Array<{ readonly connections: number } & HttpRun>
  readonly rss: { readonly requests: number; readonly before_mib: number; readonly after_mib: number; readonly growth_mib: number; readonly bound_mib: number }
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
    const requests = quick ? 50_000 : 1_000_000
    await autocannon({ url: server.url, connections: 32, amount: requests })
    const after = rssMiB(server.child.pid!)
    return {
      steps,
      rss: { requests, before_mib: before, after_mib: after, growth_mib: after - before, bound_mib: RSS_GROWTH_BOUND_MIB },
    }
  } finally {
    await stopServer(server)
  }
}
