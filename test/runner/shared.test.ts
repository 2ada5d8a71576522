// `runner: { cmd, shared: true }` with real processes: a node:cluster application
// (fixtures/shared-cluster.ts) whose workers serve HTTP through withExtPlugin with the
// TypeScript runner. One runner for every worker; SIGKILL of the runner under load and
// every worker recovers and prepares its conf again; SIGKILL of the owner and another
// worker owns a new runner; no runner left behind, whether the cluster stops or is killed.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { request } from 'undici'
import type { RunnerHealth } from '../../src/runner/health.js'
import { alive } from './support.js'

t.setTimeout(90_000)

const fixture = fileURLToPath(new URL('./fixtures/shared-cluster.ts', import.meta.url))
const MARKER = 'shared-plugins.mjs'

interface WorkerHealth {
  readonly worker: number
  readonly health: RunnerHealth & { sinceLastSuccess: number | undefined }
  readonly prepareConfs: number
}

interface LogLine {
  readonly worker: number
  readonly level: string
  readonly message: string
  readonly fields: Record<string, unknown>
  /** When the test read it (Date.now()). */
  at: number
}

interface Cluster {
  readonly primary: ChildProcess
  readonly port: number
  readonly logs: LogLine[]
  health(): Promise<WorkerHealth[]>
  stop(): Promise<void>
}


/** The TypeScript runner processes started with this test's plugins module, from /proc. */
function runnerPids(): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(MARKER) && alive(Number(name))) pids.push(Number(name))
    } catch {
      // gone while we looked
    }
  }
  return pids
}

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

async function startCluster(t: Test, workers: number, options: { detached?: boolean } = {}): Promise<Cluster> {
  const tmp = mkdtempSync(join(tmpdir(), 'sr-'))
  const primary = fork(fixture, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_OPTIONS: '', WORKERS: String(workers), TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    detached: options.detached ?? false,
  })
  const logs: LogLine[] = []
  let partial = ''
  primary.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop()!
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as LogLine
        entry.at = Date.now()
        logs.push(entry)
      } catch {
        // not one of ours
      }
    }
  })
  const replies: Array<(health: WorkerHealth[]) => void> = []
  let port = 0
  primary.on('message', (message: { listening?: number; health?: WorkerHealth[] }) => {
    if (message.listening !== undefined) port = message.listening
    if (message.health !== undefined) replies.shift()?.(message.health)
  })
  const exited = new Promise<void>((resolve) => primary.once('exit', () => resolve()))
  t.teardown(async () => {
    if (primary.connected) primary.send({ cmd: 'stop' }, () => {})
    await Promise.race([exited, sleep(5000)])
    if (primary.exitCode === null && primary.signalCode === null) primary.kill('SIGKILL')
    rmSync(tmp, { recursive: true, force: true })
  })
  await until('the workers to listen', () => port !== 0, 30_000)
  return {
    primary,
    port,
    logs,
    health: () =>
      new Promise((resolve) => {
        replies.push(resolve)
        primary.send({ cmd: 'health' })
      }),
    stop: async () => {
      primary.send({ cmd: 'stop' })
      await exited
    },
  }
}

/** Every worker reports the same runner, up; returns the reports. */
async function allUp(cluster: Cluster, workers: number, ms = 20_000): Promise<WorkerHealth[]> {
  return until(
    'every worker to see one runner up',
    async () => {
      const health = await cluster.health()
      const pids = new Set(health.map((h) => h.health.pid))
      return health.length === workers && health.every((h) => h.health.state === 'up') && pids.size === 1 ? health : undefined
    },
    ms,
  )
}

interface Load {
  ok: number
  failed: number
  /** Per worker pid: when it last answered 200 (Date.now()). */
  readonly lastOk: Map<number, number>
  readonly runners: Set<number>
  /** Every 200 answer: [worker pid, runner pid, Date.now()]. */
  readonly answers: Array<[number, number, number]>
  stop(): Promise<void>
}

/** Milliseconds from `since` until the last of `workers` answered 200 through `runner` for the first time. */
function recoveredAfter(traffic: Load, workers: readonly number[], runner: number, since: number): number {
  return Math.max(...workers.map((w) => (traffic.answers.find(([worker, by]) => worker === w && by === runner)?.[2] ?? Infinity) - since))
}

/** Requests on new connections (so the primary spreads them over every worker) until stopped. */
function load(port: number, concurrency = 4): Load {
  let running = true
  const state: Load = {
    ok: 0,
    failed: 0,
    lastOk: new Map(),
    runners: new Set(),
    answers: [],
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await request(`http://127.0.0.1:${port}/`, { reset: true, headersTimeout: 5000, bodyTimeout: 5000 })
        await res.body.dump()
        if (res.statusCode === 200) {
          state.ok++
          state.lastOk.set(Number(res.headers['x-worker']), Date.now())
          state.answers.push([Number(res.headers['x-worker']), Number(res.headers['x-runner']), Date.now()])
          state.runners.add(Number(res.headers['x-runner']))
        } else {
          state.failed++
          await sleep(20)
        }
      } catch {
        state.failed++
        await sleep(20)
      }
    }
  }
  const loops = Array.from({ length: concurrency }, loop)
  return state
}

/** The PrepareConf lines the runner printed for `worker`'s conf, from `from` on in the logs. */
function prepares(cluster: Cluster, worker: number, from = 0): number {
  const text = `prepare-conf {"worker":${worker}}`
  return cluster.logs.slice(from).filter((l) => l.message.includes(text)).length
}

/** Runs `step`; when it fails, prints what the workers logged since `since` (and their last health) first. */
async function explained<T>(t: Test, cluster: Cluster, since: number, step: () => Promise<T>, health?: () => unknown): Promise<T> {
  try {
    return await step()
  } catch (err) {
    const recent = cluster.logs.filter((l) => l.at >= since && !/ DEBUG /.test(l.message))
    const shown = [...recent.filter((l) => l.message.startsWith('shared runner')).slice(0, 60), ...recent.slice(-10)]
    for (const l of shown) {
      t.comment(`+${l.at - since} ms ${l.worker} ${l.level} ${l.message.slice(0, 200)}`)
    }
    if (health !== undefined) t.comment(JSON.stringify(health()))
    throw err
  }
}

t.test('three workers share one runner; it is SIGKILLed under load, then its owner is', async (t) => {
  const cluster = await startCluster(t, 3)
  const health = await allUp(cluster, 3)
  const owners = health.filter((h) => h.health.role === 'owner')
  t.equal(owners.length, 1, 'one owner')
  t.equal(health.filter((h) => h.health.role === 'attached').length, 2, 'the others attached')
  const runner = health[0]!.health.pid!
  t.same(runnerPids(), [runner], 'exactly one runner process')
  t.ok(health.every((h) => h.health.socketPath === health[0]!.health.socketPath), 'one socket')

  // every worker serves through the runner and prepares its own conf
  let traffic = load(cluster.port)
  await until('every worker to answer', () => traffic.lastOk.size === 3)
  await traffic.stop()
  t.same([...traffic.runners], [runner], 'every answer went through the one runner')
  for (const h of health) t.ok(prepares(cluster, h.worker) >= 1, `worker ${h.worker} prepared its conf`)
  const runnerLines = cluster.logs.filter((l) => l.message.startsWith(`runner ${runner}: `))
  t.ok(runnerLines.length > 0 && runnerLines.every((l) => l.worker === owners[0]!.worker), "the runner's output is logged by its owner")
  t.ok(runnerLines.some((l) => l.level === 'info' && / INFO listening on unix:/.test(l.message)), 'at its own level')

  // SIGKILL the runner under load
  traffic = load(cluster.port)
  await until('traffic', () => traffic.ok > 10)
  const mark = cluster.logs.length
  const before = new Map(health.map((h) => [h.worker, h.prepareConfs]))
  const killedAt = Date.now()
  process.kill(runner, 'SIGKILL')
  const servedByAnother = (workers: readonly number[], old: number) => workers.every((w) => traffic.answers.some(([worker, by]) => worker === w && by !== old))
  await until('every worker to answer through a new runner', () => servedByAnother(health.map((h) => h.worker), runner), 20_000)
  await traffic.stop()
  t.pass(`every worker recovered (${traffic.failed} failed requests during the restart)`)
  const after = await allUp(cluster, 3)
  const second = after[0]!.health.pid!
  t.comment(
    `runner SIGKILL (respawnDelay 200 ms): every worker answered through the new runner within ${recoveredAfter(traffic, health.map((h) => h.worker), second, killedAt)} ms; ` +
      `${traffic.failed} requests failed, ${traffic.ok} succeeded`,
  )
  t.not(second, runner, 'a new runner')
  t.notOk(alive(runner), 'the old one is gone')
  t.same(runnerPids(), [second], 'still exactly one runner process')
  t.ok(after.every((h) => h.health.restarts === 1), 'every worker counts one restart')
  t.ok(after.every((h) => h.health.lastExit?.signal === 'SIGKILL'), 'and knows how the runner ended')
  t.ok(after.every((h) => h.health.sinceLastSuccess !== undefined && h.health.sinceLastSuccess < 60_000), 'recent successful calls')
  for (const h of after) {
    t.ok(prepares(cluster, h.worker, mark) >= 1, `the new runner prepared worker ${h.worker}'s conf (tokens flushed)`)
    t.ok(h.prepareConfs > before.get(h.worker)!, `worker ${h.worker} prepared again`)
  }
  const noTokenErrors = cluster.logs.slice(mark).filter((l) => /conf token not found/i.test(l.message))
  t.equal(noTokenErrors.length, 0, 'no worker sent an old token to the new runner')

  // SIGKILL the owner: another worker owns a new runner within seconds
  const owner = after.find((h) => h.health.role === 'owner')!.worker
  traffic = load(cluster.port)
  const ownerKilledAt = Date.now()
  let last: WorkerHealth[] = []
  process.kill(owner, 'SIGKILL')
  const rest = await explained(t, cluster, ownerKilledAt, () => until(
    'a new owner with a runner up',
    async () => {
      const health = await cluster.health()
      const live = health.filter((h) => h.worker !== owner)
      last = health
      return live.length === 2 && live.some((h) => h.health.role === 'owner') && live.every((h) => h.health.state === 'up' && h.health.pid !== second) ? live : undefined
    },
    20_000,
  ), () => last)
  const third = rest[0]!.health.pid!
  await until('both remaining workers to answer through the new runner', () => servedByAnother(rest.map((h) => h.worker), second), 20_000)
  await traffic.stop()
  const elected = cluster.logs.find((l) => l.at >= ownerKilledAt && l.message.includes('owns the runner'))
  const listening = cluster.logs.find((l) => l.at >= ownerKilledAt && / INFO listening on unix:/.test(l.message))
  t.comment(
    `owner SIGKILL: new owner after ${elected!.at - ownerKilledAt} ms, its runner listening after ${listening!.at - ownerKilledAt} ms, ` +
      `every worker answered again within ${recoveredAfter(traffic, rest.map((h) => h.worker), third, ownerKilledAt)} ms; ${traffic.failed} requests failed`,
  )
  t.equal(rest.filter((h) => h.health.role === 'owner').length, 1, 'one new owner')
  t.ok(rest.every((h) => h.health.pid === third), 'both use its runner')
  t.ok(await until('the dead owner’s runner to go', () => !alive(second) || undefined, 5000), "the dead owner's runner is gone")
  t.same(runnerPids(), [third], 'exactly one runner process')

  await cluster.stop()
  t.ok(await until('no runner left', () => runnerPids().length === 0 || undefined, 5000), 'no runner after the cluster stopped')
})

t.test('the owner closing hands over; no orphaned runner when the whole cluster is SIGKILLed', async (t) => {
  const cluster = await startCluster(t, 2, { detached: true })
  const before = await allUp(cluster, 2)
  const owner = before.find((h) => h.health.role === 'owner')!.worker
  const other = before.find((h) => h.worker !== owner)!.worker
  const first = before[0]!.health.pid!
  // a rolling restart: the owner's ExtPlugin closes (its process stays)
  const closedAt = Date.now()
  cluster.primary.send({ cmd: 'close', worker: owner })
  const handed = await explained(t, cluster, closedAt, () =>
    until('the other worker to own a new runner', async () => {
      const mine = (await cluster.health()).find((h) => h.worker === other)
      return mine?.health.role === 'owner' && mine.health.state === 'up' && mine.health.pid !== first ? mine : undefined
    }),
  )
  t.notOk(alive(first), "the closed owner's runner was stopped")
  const runner = handed.health.pid!
  t.same(runnerPids(), [runner], 'one runner, owned by the other worker')
  t.equal(handed.health.restarts, 0, 'a handover after a clean close starts the count over')
  t.notOk(cluster.logs.some((l) => l.worker === other && l.at >= closedAt && /could not be started/.test(l.message)), 'never seen as down')
  // the primary and its workers share a process group; the runner has its own
  process.kill(-cluster.primary.pid!, 'SIGKILL')
  t.ok(await until('the runner to go', () => !alive(runner) || undefined, 5000), 'the runner died with its owner')
  t.same(runnerPids(), [], 'no runner process left')
})
