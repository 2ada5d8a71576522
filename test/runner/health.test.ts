// ext.health() for a runner of its own: starting → up → restarting (last exit, output
// tail) → up again → down after close; the time since the last successful call; an
// external runner's state from its calls; a command that cannot start is down.
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createExtPlugin } from '../../src/index.js'
import type { RunnerClient } from '../../src/rpc/client.js'
import { tsRunner } from '../helpers/interop.js'
import { until } from './support.js'

t.setTimeout(40_000)

const fake = fileURLToPath(new URL('../helpers/fake-runner.mjs', import.meta.url))


t.test('starting, up, restarting with the last exit and its output, up, down', async (t) => {
  const ext = createExtPlugin({ runner: { cmd: [process.execPath, fake], respawnDelay: 300 } })
  t.teardown(() => ext.close())
  t.match(ext.health(), { state: 'starting', role: 'owner', restarts: 0, lastExit: undefined, sinceLastSuccess: undefined })
  await ext.ready()
  const up = ext.health()
  t.match(up, { state: 'up', role: 'owner', restarts: 0 })
  t.ok(up.pid! > 0)
  t.ok(await until(() => ext.health().output.some((l) => l.startsWith('listening on '))), 'the output tail')
  process.kill(up.pid!, 'SIGKILL')
  t.ok(await until(() => ext.health().state === 'restarting'))
  const restarting = ext.health()
  t.equal(restarting.pid, undefined)
  t.match(restarting.lastExit, { pid: up.pid, code: null, signal: 'SIGKILL' })
  t.ok(!Number.isNaN(Date.parse(restarting.lastExit!.at)), 'when, ISO 8601')
  t.ok(restarting.lastExit!.output.includes('fake runner starting'), 'with what it printed')
  t.ok(await until(() => ext.health().state === 'up'))
  t.match(ext.health(), { state: 'up', restarts: 1 })
  t.not(ext.health().pid, up.pid)
  await ext.close()
  t.match(ext.health(), { state: 'down', pid: undefined, restarts: 1 })
})

t.test('a command that cannot start is down', async (t) => {
  const ext = createExtPlugin({ runner: { cmd: ['/nonexistent/runner'] } })
  t.teardown(() => ext.close())
  await t.rejects(ext.ready())
  t.match(ext.health(), { state: 'down', role: 'owner', pid: undefined })
})

const call = (client: RunnerClient) =>
  client.httpReqCall(
    { key: 'route#1#ext-plugin-pre-req#1', conf: [{ name: 'noop', value: '' }] },
    { method: 1, path: '/', headers: [], args: [], srcIp: new Uint8Array([127, 0, 0, 1]) },
  )

t.test('time since the last successful call; an external runner is what its calls find', async (t) => {
  const owner = createExtPlugin({ runner: { cmd: tsRunner.cmd, env: tsRunner.env } })
  t.teardown(() => owner.close())
  await owner.ready()
  await call(owner.client!)
  await sleep(50)
  const since = owner.health().sinceLastSuccess!
  t.ok(since >= 40 && since < 10_000, `${since} ms since the call`)

  const external = createExtPlugin({ runner: { socket: owner.process!.socketPath }, connectTimeout: 200 })
  t.teardown(() => external.close())
  t.match(external.health(), { state: 'starting', role: 'external', socketPath: owner.process!.socketPath, sinceLastSuccess: undefined })
  await call(external.client!)
  t.match(external.health(), { state: 'up', role: 'external' })
  await owner.close()
  await t.rejects(call(external.client!))
  t.match(external.health(), { state: 'down', role: 'external' })
  t.ok(external.health().sinceLastSuccess! >= 0)

  t.match(createExtPlugin().health(), { state: 'down', role: 'external', socketPath: '' }, 'no runner at all')
})
