// Instructions the server executes per request, counted by valgrind's callgrind: unlike
// time or CPU from /proc, the count does not move with the machine's load, so a change to
// the hot path can be judged on a busy machine. The runner (a child) is not counted.
//
//   node --import tsx bench/instructions.ts [framework variant [body [requests]]] ...
//   e.g. bench/instructions.ts http bare http floor http pre-req http post-resp 1024
//
// Each target: the server starts under callgrind (JIT code: --smc-check=all-non-file),
// is warmed with 3 000 requests, the counters are zeroed, N requests (default 2 000,
// 10 connections as in the http benchmark) run, and the counters are dumped.
// BENCH_SOURCE=src measures the sources instead of dist/.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { buildGoPrograms } from './paths.js'

const SERVER = fileURLToPath(new URL('server.ts', import.meta.url))

export interface InstructionCount {
  readonly target: string
  readonly requests: number
  readonly instructions_per_request: number
}

export async function countInstructions(framework: string, variant: string, body = 12, requests = 2000): Promise<InstructionCount> {
  const dir = mkdtempSync(join(tmpdir(), 'callgrind-'))
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${join(dir, 'cg.%p')}`, process.execPath, '--import', 'tsx', SERVER, framework, variant, String(body)],
    { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_ENV: 'production' } },
  )
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer]
    const { port } = JSON.parse(line.toString()) as { port: number }
    const url = `http://127.0.0.1:${port}/`
    const method = variant === 'read-body' ? 'POST' : 'GET'
    await autocannon({ url, method, connections: 10, amount: 3000 })
    control(['-z', String(child.pid)])
    await autocannon({ url, method, connections: 10, amount: requests })
    control(['-d', String(child.pid)])
    const dumps = readdirSync(dir).filter((f) => /\.\d+$/.test(f) || /cg\.\d+\.\d+/.test(f))
    // The explicit dump is the file with a part number (cg.<pid>.1).
    const dump = dumps.find((f) => /cg\.\d+\.\d+$/.test(f))
    if (dump === undefined) throw new Error(`no callgrind dump in ${dir}`)
    const summary = /^summary:\s+(\d+)/m.exec(readFileSync(join(dir, dump), 'utf8'))
    if (summary === null) throw new Error('callgrind dump without a summary')
    return { target: `${framework} ${variant}${body === 12 ? '' : ` ${body} B`}`, requests, instructions_per_request: Number(summary[1]) / requests }
  } finally {
    child.kill('SIGKILL')
    await once(child, 'exit').catch(() => {})
  }
}

function control(args: string[]): void {
  const r = spawnSync('callgrind_control', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`callgrind_control ${args.join(' ')}: ${r.stderr}`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildGoPrograms()
  const args = process.argv.slice(2)
  const targets: Array<[string, string, number]> = []
  for (let i = 0; i < args.length; ) {
    const framework = args[i++]!
    const variant = args[i++] ?? 'bare'
    const body = /^\d+$/.test(args[i] ?? '') ? Number(args[i++]) : 12
    targets.push([framework, variant, body])
  }
  if (targets.length === 0) targets.push(['http', 'bare', 12], ['http', 'floor', 12], ['http', 'pre-req', 12])
  for (const [framework, variant, body] of targets) {
    const count = await countInstructions(framework, variant, body)
    console.log(`${count.target.padEnd(28)} ${(count.instructions_per_request / 1000).toFixed(1).padStart(9)} k instructions / request (${count.requests} requests)`)
  }
}
