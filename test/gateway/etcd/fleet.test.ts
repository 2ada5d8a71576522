// Two gateway processes on one real etcd: this one and a second Node process
// (fixtures/gateway.ts). They converge on every write; the convergence time (from just
// before the write is sent until both run it) is measured over 100 writes and printed, not
// asserted. Then etcd is stopped mid-run: both keep serving the last configuration to busy
// clients, and after the restart both resume their watch and pick up a new write.
import { spawn, type ChildProcess } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { PREFIX, serveGateway, tagged, world } from './support.js'

t.setTimeout(40_000)

const now = (): number => performance.timeOrigin + performance.now()

interface Child {
  readonly url: string
  readonly lines: Array<Record<string, unknown>>
  /** The time at which the child applied `revision` (or later). */
  applied(revision: number, ms?: number): Promise<number>
}

async function spawnGateway(t: Test, env: Record<string, string>): Promise<Child> {
  const fixture = fileURLToPath(new URL('./fixtures/gateway.ts', import.meta.url))
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
        setTimeout(() => child.kill('SIGKILL'), 3000).unref()
      }),
  )
  const lines: Array<Record<string, unknown>> = []
  let revision = 0
  let at = 0
  const waiters: Array<{ revision: number; resolve: (at: number) => void }> = []
  let onPort: (port: number) => void = () => {}
  const port = new Promise<number>((resolve, reject) => {
    onPort = resolve
    child.once('exit', (code) => reject(new Error(`the second gateway exited (${String(code)}) before listening`)))
  })
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>
    lines.push(line)
    if (typeof line.port === 'number') onPort(line.port)
    if (typeof line.applied === 'number' && line.applied > revision) {
      revision = line.applied
      at = line.at as number
      for (const w of waiters.splice(0)) {
        if (w.revision <= revision) w.resolve(at)
        else waiters.push(w)
      }
    }
  })
  return {
    url: `http://127.0.0.1:${await port}`,
    lines,
    applied: (wanted, ms = 10_000) =>
      new Promise((resolve, reject) => {
        if (revision >= wanted) return resolve(at)
        const timer = setTimeout(() => reject(new Error(`second gateway: revision ${wanted} not applied (at ${revision})`)), ms)
        waiters.push({ revision: wanted, resolve: (when) => (clearTimeout(timer), resolve(when)) })
      }),
  }
}

async function tagAt(url: string): Promise<{ status: number; tag: string | null; server: string | null }> {
  const res = await request(`${url}/conv`)
  const text = await res.body.text()
  if (res.statusCode !== 200) return { status: res.statusCode, tag: null, server: null }
  const body = JSON.parse(text) as { tag: string; server: string }
  return { status: 200, tag: body.tag, server: body.server }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

t.test('two gateway processes on one etcd', async (t) => {
  const w = await world(t)
  const route = (n: number): Record<string, unknown> => ({
    id: 'conv',
    uri: '/conv',
    upstream: { nodes: { [(n % 2 === 0 ? w.a : w.b).address]: 1 } },
    plugins: tagged(String(n)),
  })
  await w.put('routes/conv', route(0))
  // the local gateway's apply times, from its debug line
  let localRevision = 0
  let localAt = 0
  const localWaiters: Array<{ revision: number; resolve: (at: number) => void }> = []
  const local = await serveGateway(t, w, {}, (entry) => {
    const r = entry.fields.revision
    if (typeof r !== 'number' || !/^etcd: (applied revision|loaded|reloaded)/.test(entry.message) || r <= localRevision) return
    localRevision = r
    localAt = now()
    for (const lw of localWaiters.splice(0)) {
      if (lw.revision <= localRevision) lw.resolve(localAt)
      else localWaiters.push(lw)
    }
  })
  const localApplied = (revision: number): Promise<number> =>
    new Promise((resolve, reject) => {
      if (localRevision >= revision) return resolve(localAt)
      const timer = setTimeout(() => reject(new Error(`local gateway: revision ${revision} not applied`)), 10_000)
      localWaiters.push({ revision, resolve: (at) => (clearTimeout(timer), resolve(at)) })
    })
  await local.gw.ready()
  const other = await spawnGateway(t, { ETCD_URL: w.etcd.url, RUNNER_SOCKET: w.socket, ETCD_PREFIX: PREFIX })

  t.same(await tagAt(local.url), { status: 200, tag: '0', server: 'a' })
  t.same(await tagAt(other.url), { status: 200, tag: '0', server: 'a' })

  await t.test('convergence after each of 100 writes', async (t) => {
    const times: number[] = []
    const acks: number[] = []
    for (let n = 1; n <= 100; n++) {
      const start = now()
      const revision = await w.put('routes/conv', route(n))
      acks.push(now() - start)
      const [a, b] = await Promise.all([localApplied(revision), other.applied(revision)])
      times.push(Math.max(a, b) - start)
    }
    const sorted = [...times].sort((x, y) => x - y)
    const ack = [...acks].sort((x, y) => x - y)
    const figure = `etcd convergence of 2 gateways over 100 writes: median ${percentile(sorted, 0.5).toFixed(2)} ms, p90 ${percentile(sorted, 0.9).toFixed(2)} ms, max ${sorted.at(-1)!.toFixed(2)} ms (etcd write ack: median ${percentile(ack, 0.5).toFixed(2)} ms)`
    t.comment(figure)
    console.error(`# ${figure}`)
    t.same(await tagAt(local.url), { status: 200, tag: '100', server: 'a' })
    t.same(await tagAt(other.url), { status: 200, tag: '100', server: 'a' })
  })

  await t.test('convergence after each of 100 Admin API writes (PUT on the local gateway\'s Admin API)', async (t) => {
    const admin = await local.gw.listenAdmin({ port: 0, key: 'fleet-key' })
    t.teardown(() => new Promise<void>((resolve) => admin.close(() => resolve())))
    const address = admin.address()
    const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
    const times: number[] = []
    const acks: number[] = []
    for (let n = 1; n <= 100; n++) {
      const start = now()
      const res = await request(`${base}/apisix/admin/routes/conv`, {
        method: 'PUT',
        headers: { 'x-api-key': 'fleet-key', 'content-type': 'application/json' },
        body: JSON.stringify({ ...route(n), id: undefined }),
      })
      const body = (await res.body.json()) as { modifiedIndex?: number; value?: unknown }
      acks.push(now() - start)
      t.equal(res.statusCode, 200, `write ${n} acknowledged`)
      const revision = Number(body.modifiedIndex ?? localRevision)
      const [a, b] = await Promise.all([localApplied(revision), other.applied(revision)])
      times.push(Math.max(a, b) - start)
    }
    const sorted = [...times].sort((x, y) => x - y)
    const ack = [...acks].sort((x, y) => x - y)
    const figure = `Admin API write convergence of 2 gateways over 100 writes: median ${percentile(sorted, 0.5).toFixed(2)} ms, p90 ${percentile(sorted, 0.9).toFixed(2)} ms, max ${sorted.at(-1)!.toFixed(2)} ms (Admin API answer, applied locally: median ${percentile(ack, 0.5).toFixed(2)} ms)`
    t.comment(figure)
    console.error(`# ${figure}`)
    t.same(await tagAt(other.url), { status: 200, tag: '100', server: 'a' })
  })

  await t.test('etcd stopped and restarted under load: last configuration served, then the watch resumes', async (t) => {
    let failed = 0
    const tags = new Set<string>()
    let running = true
    const client = async (url: string): Promise<void> => {
      while (running) {
        const res = await tagAt(url).catch(() => ({ status: 0, tag: null, server: null }))
        if (res.status !== 200) failed++
        else tags.add(`${res.tag}/${res.server}`)
      }
    }
    const clients = [...Array.from({ length: 8 }, () => client(local.url)), ...Array.from({ length: 8 }, () => client(other.url))]
    const lastRevision = localRevision
    await w.etcd.stop()
    await new Promise((resolve) => setTimeout(resolve, 1500))
    t.same([...tags], ['100/a'], 'only the last configuration served while etcd is down')
    t.ok(local.logger.has('warn', /etcd watch lost/), 'the loss is logged')
    await w.etcd.start()
    const revision = await w.put('routes/conv', { ...route(101), plugins: tagged('after-restart') })
    t.ok(revision > lastRevision, 'same data: revisions continue')
    await Promise.all([localApplied(revision), other.applied(revision)])
    running = false
    await Promise.all(clients)
    t.equal(failed, 0, 'no failed request during the outage')
    t.same(await tagAt(local.url), { status: 200, tag: 'after-restart', server: 'b' })
    t.same(await tagAt(other.url), { status: 200, tag: 'after-restart', server: 'b' })
    t.ok(local.logger.has('info', new RegExp(`etcd watch resumed from revision ${lastRevision + 1}`)), 'resumed from the revision after the last seen')
    t.ok(other.lines.some((l) => typeof l.message === 'string' && l.message.includes(`resumed from revision ${lastRevision + 1}`)), 'the second gateway too')
    t.notOk(local.logger.has('info', /reloaded/), 'no full reload was needed')
  })
})
