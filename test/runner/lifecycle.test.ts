// RunnerProcess against runners that misbehave the way real ones do: a socket file left
// behind, a runner that dies right after its start again and again, and a host that is
// SIGKILLed (no exit hook runs) while its runner ignores every polite signal.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { recordingLogger, type RecordingLogger } from '../helpers/logger.js'
import { RunnerProcess } from '../../src/runner/process.js'
import { alive, until } from './support.js'

t.setTimeout(90_000)

const bare = fileURLToPath(new URL('./fixtures/bare-runner.mjs', import.meta.url))
const fake = fileURLToPath(new URL('../helpers/fake-runner.mjs', import.meta.url))

function recorder(): RecordingLogger {
  return recordingLogger()
}



t.test('a socket file left by a SIGKILLed runner does not stop the respawn', async (t) => {
  const logger = recorder()
  const runner = new RunnerProcess({ cmd: [process.execPath, bare], respawnDelay: 10, stopTimeout: 100, logger })
  t.teardown(() => runner.close())
  await runner.ready()
  const first = runner.pid!
  process.kill(first, 'SIGKILL')
  t.ok(await until(() => runner.pid !== undefined && runner.pid !== first), 'respawned')
  await runner.ready()
  t.ok(existsSync(runner.socketPath))
  t.notOk(logger.lines.some((l) => l.includes('EADDRINUSE')), 'no EADDRINUSE')
  t.equal(runner.spawns, 2)
})

t.test('a runner that keeps dying early is respawned with a doubling delay, reset by a healthy run', async (t) => {
  const logger = recorder()
  const delays = (): string[] =>
    logger.lines.filter((l) => l.startsWith('warn respawn runner')).map((l) => /runner (\S+) seconds/.exec(l)![1]!)
  const crashing = new RunnerProcess({
    cmd: [process.execPath, fake, 'exit=1'],
    respawnDelay: 20,
    maxRespawnDelay: 100,
    healthyUptime: 60_000,
    logger,
  })
  t.teardown(() => crashing.close())
  t.ok(await until(() => delays().length >= 5, 20_000), 'five exits')
  t.same(delays().slice(0, 5), ['0.02', '0.04', '0.08', '0.1', '0.1'], 'doubles up to the maximum')
  await crashing.close()

  // A runner that lived past healthyUptime starts the series over.
  const healthyLog = recorder()
  const healthy = new RunnerProcess({
    cmd: [process.execPath, fake],
    respawnDelay: 20,
    maxRespawnDelay: 1000,
    healthyUptime: 300,
    logger: healthyLog,
  })
  t.teardown(() => healthy.close())
  const healthyDelays = (): string[] =>
    healthyLog.lines.filter((l) => l.startsWith('warn respawn runner')).map((l) => /runner (\S+) seconds/.exec(l)![1]!)
  for (let i = 0; i < 3; i++) {
    await healthy.ready()
    const pid = healthy.pid!
    await sleep(400) // outlive healthyUptime
    process.kill(pid, 'SIGKILL')
    t.ok(await until(() => healthyDelays().length === i + 1))
  }
  t.same(healthyDelays(), ['0.02', '0.02', '0.02'], 'no backoff after healthy runs')
})

// Hosts run on tsx alone, without the test runner's loaders and exit hooks.
const hostEnv = { ...process.env, NODE_OPTIONS: '' }
const extPlugin = fileURLToPath(new URL('../../src/ext-plugin.ts', import.meta.url))

t.test('no runner outlives a SIGKILLed host', async (t) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { createExtPlugin } from ${JSON.stringify(extPlugin)}
       const ext = createExtPlugin({ runner: { cmd: ${JSON.stringify([process.execPath, bare])} } })
       await ext.ready()
       console.log('pid=' + ext.process.pid)
       setInterval(() => {}, 1000)`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: hostEnv },
  )
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  t.ok(await until(() => /pid=\d+/.test(out), 20_000), 'host started its runner')
  const pid = Number(/pid=(\d+)/.exec(out)![1])
  t.ok(alive(pid))
  child.kill('SIGKILL')
  const killedAt = performance.now()
  // Generous: the watcher acts as soon as the kernel closes the host's pipe.
  const gone = await until(() => !alive(pid), 10_000)
  t.comment(`runner gone ${((performance.now() - killedAt) / 1000).toFixed(2)} s after the host's SIGKILL`)
  if (!gone) process.kill(pid, 'SIGKILL')
  t.ok(gone, 'the runner is gone')
})
