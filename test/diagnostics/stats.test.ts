// ext.stats() after real calls through a real TypeScript runner, and respawns of a managed
// runner (with the runner-spawn / -exit / -respawn channels it publishes).
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import {
  RUNNER_EXIT_CHANNEL,
  RUNNER_RESPAWN_CHANNEL,
  RUNNER_SPAWN_CHANNEL,
  type RunnerExitContext,
  type RunnerRespawnContext,
  type RunnerSpawnContext,
} from '../../src/diagnostics/index.js'
import { LATENCY_BUCKETS_MS, LatencyHistogram } from '../../src/diagnostics/histogram.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import { until } from '../runner-server/fixtures/gateway.js'
import { everyPhase, get, setup } from './support.js'

t.setTimeout(30_000)

const fake = fileURLToPath(new URL('../helpers/fake-runner.mjs', import.meta.url))

t.test('calls by phase and outcome, latency, tokens, retries, degradations, 503s, connections', async (t) => {
  const { ext, serve, restartRunner } = await setup(t)
  const zero = ext.stats()
  t.same(zero.calls, { rewrite: { ok: 0, stop: 0, rewrite: 0 }, access: { ok: 0, stop: 0, rewrite: 0 }, response: { ok: 0, stop: 0, rewrite: 0 } })
  t.same(zero.connections, { active: 0, idle: 0, queued: 0, opened: 0 })
  t.equal(zero.respawns, 0, 'an external runner is never respawned by us')

  const all = await serve(everyPhase('all'))
  const failing = await serve({ id: 'failing', plugins: { 'ext-plugin-post-req': { conf: [{ name: 'boom', value: '{}' }] } } })
  const degraded = await serve({ id: 'degraded', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'boom', value: '{}' }], allow_degradation: true } } })
  const refused = await serve({ id: 'refused', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'nope', value: '' }] } } })

  for (let i = 0; i < 3; i++) t.equal((await get(all)).status, 200)
  t.equal((await get(all, { 'x-deny': '1' })).status, 403)
  t.equal((await get(failing)).status, 503)
  t.equal((await get(degraded)).status, 200)
  t.equal((await get(refused)).status, 503)
  await restartRunner()
  t.equal((await get(all, { 'x-deny': '1' })).status, 403, 'through after `conf token not found`')

  const stats = ext.stats()
  t.same(stats.calls.rewrite, { ok: 3, stop: 2, rewrite: 0, EXT_ERR_RUNNER_REPLIED_ERROR: 2 }, 'the degraded call and the refused token are errors')
  t.same(stats.calls.access, { ok: 0, stop: 0, rewrite: 3, EXT_ERR_RUNNER_REPLIED_ERROR: 1 })
  t.same(stats.calls.response, { ok: 0, stop: 0, rewrite: 3 })
  for (const phase of ['rewrite', 'access', 'response'] as const) {
    const latency = stats.latency[phase]
    const calls = Object.values(stats.calls[phase]).reduce((a, b) => a + b, 0)
    t.equal(latency.count, calls, `${phase}: every call observed`)
    t.same(latency.buckets.map((b) => b.le), [...LATENCY_BUCKETS_MS, Infinity])
    t.equal(latency.buckets.at(-1)!.count, calls, 'the +Inf bucket holds every call')
    t.ok(latency.buckets.every((b, i) => i === 0 || b.count >= latency.buckets[i - 1]!.count), 'cumulative')
    t.ok(latency.sum > 0 && latency.sum < 30_000 * calls, 'a sum in ms')
  }
  // PrepareConf: all (3 confs), failing, degraded, then all's pre-req again after the restart; refused fails
  t.same(stats.prepareConf, { ok: 6, error: 1 })
  t.equal(stats.retries.confTokenNotFound, 1)
  t.equal(stats.tokenCache.misses, 3 + 1 + 1 + 1 + 1, 'the first call of each conf, and the retry after the flush')
  t.equal(stats.tokenCache.hits, 6 + 1 + 1, "all's later calls, its first denied call, the attempt refused after the restart")
  t.equal(stats.tokenCache.size, 1, 'the flush on `conf token not found` left only the prepared token')
  t.equal(stats.degradations, 1)
  t.equal(stats.unavailable, 2)
  t.equal(stats.connections.active, 0)
  t.equal(stats.connections.queued, 0)
  t.ok(stats.connections.idle >= 1, 'a kept connection')
  t.ok(stats.connections.opened >= stats.connections.idle)
  t.equal(stats.inFlight, 0)
})

t.test('connections active and queued while calls wait', async (t) => {
  const { socket } = await setup(t)
  // calls held by their ExtraInfo answers, behind maxConnections 1
  const slow = createExtPlugin({ runner: { socket }, maxConnections: 1 })
  t.teardown(() => slow.close())
  const client = slow.client!
  const conf = { key: 'route#q#ext-plugin-pre-req#1', conf: [{ name: 'ask', value: '{}' }] }
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  const extra = { variable: async () => (await gate, '127.0.0.1'), requestBody: () => undefined, responseBody: () => undefined }
  const request = { srcIp: Buffer.from([127, 0, 0, 1]), method: 0, path: '/', args: [], headers: [] }
  const calls = [client.httpReqCall(conf, request, extra), client.httpReqCall(conf, request, extra), client.httpReqCall(conf, request, extra)]
  t.ok(await until(() => slow.stats().connections.queued === 2), 'two calls wait behind maxConnections 1')
  t.match(slow.stats().connections, { active: 1, idle: 0, queued: 2 })
  t.equal(slow.stats().inFlight, 3)
  release()
  await Promise.all(calls)
  t.match(slow.stats().connections, { active: 0, idle: 1, queued: 0 })
  t.same(slow.stats().calls.rewrite, { ok: 3, stop: 0, rewrite: 0 })
})

t.test('respawns of a managed runner; runner-spawn, runner-exit, runner-respawn contexts', async (t) => {
  const spawns: RunnerSpawnContext[] = []
  const exits: RunnerExitContext[] = []
  const respawns: RunnerRespawnContext[] = []
  const onSpawn = (m: unknown): void => void spawns.push(m as RunnerSpawnContext)
  const onExit = (m: unknown): void => void exits.push(m as RunnerExitContext)
  const onRespawn = (m: unknown): void => void respawns.push(m as RunnerRespawnContext)
  subscribe(RUNNER_SPAWN_CHANNEL, onSpawn)
  subscribe(RUNNER_EXIT_CHANNEL, onExit)
  subscribe(RUNNER_RESPAWN_CHANNEL, onRespawn)
  t.teardown(() => {
    unsubscribe(RUNNER_SPAWN_CHANNEL, onSpawn)
    unsubscribe(RUNNER_EXIT_CHANNEL, onExit)
    unsubscribe(RUNNER_RESPAWN_CHANNEL, onRespawn)
  })
  const cmd = [process.execPath, fake]
  const ext = createExtPlugin({ runner: { cmd, respawnDelay: 10, stopTimeout: 200 } })
  t.teardown(() => ext.destroy())
  await ext.ready()
  const first = ext.process!.pid!
  t.equal(ext.stats().respawns, 0)
  t.match(spawns, [{ pid: first, cmd, socketPath: ext.process!.socketPath, spawns: 1 }])
  process.kill(first, 'SIGKILL')
  t.ok(await until(() => ext.stats().respawns === 1), 'counted once the new runner is spawned')
  t.match(exits, [{ pid: first, cmd, code: null, signal: 'SIGKILL', expected: false }])
  t.match(respawns, [{ pid: first, cmd, code: null, signal: 'SIGKILL', delay: 10 }])
  t.ok(await until(() => spawns.length === 2))
  t.match(spawns[1], { cmd, spawns: 2 })
  t.not(spawns[1]!.pid, first)
  await ext.close()
  t.match(exits.at(-1), { pid: spawns[1]!.pid, expected: true }, 'close: an expected exit, no respawn')
  t.equal(respawns.length, 1)
})

t.test('LatencyHistogram: bucket edges are "less or equal"', async (t) => {
  const h = new LatencyHistogram([1, 10])
  for (const ms of [0.5, 1, 1.5, 10, 11]) h.observe(ms)
  t.same(h.snapshot(), { buckets: [{ le: 1, count: 2 }, { le: 10, count: 4 }, { le: Infinity, count: 5 }], sum: 24, count: 5 })
})
