// RunnerProcess with a stand-in runner (test/helpers/fake-runner.mjs): environment, output,
// readiness, the ways a start fails, respawn, stop, and no orphan when Node goes away.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { ErrorCode } from '../../src/errors.js'
import { recordingLogger, type RecordingLogger } from '../helpers/logger.js'
import { RunnerProcess, type RunnerProcessOptions } from '../../src/runner/process.js'
import { alive, until } from './support.js'

const fake = fileURLToPath(new URL('../helpers/fake-runner.mjs', import.meta.url))
const cmd = (...args: string[]) => [process.execPath, fake, ...args]

function recorder(): RecordingLogger {
  return recordingLogger()
}



function start(t: Test, options: Partial<RunnerProcessOptions> & { cmd: readonly string[] }): RunnerProcess {
  const runner = new RunnerProcess(options)
  t.teardown(() => runner.close())
  return runner
}

t.test('environment, private socket directory, output to the logger', async (t) => {
  const logger = recorder()
  const runner = start(t, { cmd: cmd('env'), env: { FAKE_RUNNER_EXTRA: 'yes' }, confExpireTime: 120, logger })
  await runner.ready()
  t.match(runner.socketPath, /apisix-ext-plugin-[^/]+\/runner\.sock$/)
  t.equal(statSync(dirname(runner.socketPath)).mode & 0o777, 0o700, 'socket directory is private')
  await until(() => logger.lines.some((l) => l.includes('listening on')))
  const pid = runner.pid!
  t.ok(logger.lines.includes(`info runner ${pid}: APISIX_LISTEN_ADDRESS=unix:${runner.socketPath}`))
  t.ok(logger.lines.includes(`info runner ${pid}: APISIX_CONF_EXPIRE_TIME=120`))
  t.ok(logger.lines.includes(`info runner ${pid}: FAKE_RUNNER_EXTRA=yes`))
  t.ok(logger.lines.includes(`info runner ${pid}: fake runner starting`), 'stderr lines without a level word at info')
  t.ok(logger.entries.filter((e) => e.message.startsWith('runner ')).every((e) => e.fields.pid === pid), 'fields { pid }')
  await runner.close()
  t.notOk(existsSync(dirname(runner.socketPath)), 'directory removed on close')
})

t.test('two instances never share a socket', async (t) => {
  const a = start(t, { cmd: cmd() })
  const b = start(t, { cmd: cmd() })
  await Promise.all([a.ready(), b.ready()])
  t.not(a.socketPath, b.socketPath)
})

t.test('a runner that exits at once with status 111', async (t) => {
  const logger = recorder()
  const runner = start(t, { cmd: cmd('exit=111'), logger, respawnDelay: 60_000 })
  await t.rejects(runner.ready(), {
    code: ErrorCode.RUNNER_START,
    exitCode: 111,
    message: /^the runner exited \(code 111\) before listening on .*runner\.sock; its last output:\n/,
  })
  t.ok(logger.lines.includes('warn runner exited with reason: exit, status: 111'))
  t.ok(logger.lines.some((l) => l.startsWith('warn respawn runner 60 seconds later with cmd: [')))
})

t.test('a runner that never listens: start timeout', async (t) => {
  const runner = start(t, { cmd: cmd('never-listen'), startTimeout: 300 })
  const started = performance.now()
  await t.rejects(runner.ready(), { code: ErrorCode.RUNNER_START, message: /did not listen on .* within 300 ms/ })
  t.ok(performance.now() - started < 2000)
})

t.test('a command that does not exist', async (t) => {
  const runner = start(t, { cmd: ['/nonexistent/runner', 'run'] })
  await t.rejects(runner.ready(), {
    code: ErrorCode.RUNNER_START,
    message: /^failed to start the runner \["\/nonexistent\/runner","run"\]: spawn \/nonexistent\/runner ENOENT/,
  })
  t.equal(runner.spawns, 1, 'no respawn loop for a command that cannot start')
})

t.test('an empty cmd is refused', async (t) => {
  t.throws(() => new RunnerProcess({ cmd: [] }), { code: ErrorCode.INVALID_OPTIONS })
})

t.test('respawn after an exit, with onExit first', async (t) => {
  const exits: Array<number | null> = []
  const runner = start(t, { cmd: cmd(), respawnDelay: 50, onExit: (e) => exits.push(e.code) })
  await runner.ready()
  const first = runner.pid!
  process.kill(first, 'SIGTERM')
  await until(() => runner.pid !== undefined && runner.pid !== first)
  await runner.ready()
  t.same(exits, [0])
  t.equal(runner.spawns, 2)
  t.ok(alive(runner.pid!))
})

t.test('close(): SIGTERM, and SIGKILL after the grace period for a runner that ignores it', async (t) => {
  const logger = recorder()
  const stubborn = new RunnerProcess({ cmd: cmd('ignore-sigterm'), stopTimeout: 200, logger })
  await stubborn.ready()
  const pid = stubborn.pid!
  const started = performance.now()
  await stubborn.close()
  const took = performance.now() - started
  t.notOk(alive(pid), 'killed')
  t.ok(took >= 190 && took < 2000, `stopped after the grace period (${took.toFixed(0)} ms)`)
  t.ok(logger.lines.some((l) => l.includes('ignored SIGTERM')))

  const polite = new RunnerProcess({ cmd: cmd() })
  await polite.ready()
  const politePid = polite.pid!
  const t0 = performance.now()
  await polite.close()
  t.notOk(alive(politePid))
  t.ok(performance.now() - t0 < 190, 'a runner that honours SIGTERM is not waited for')
})

t.test('close() while waiting to respawn: no respawn, ready() rejects', async (t) => {
  const runner = new RunnerProcess({ cmd: cmd('exit=1'), respawnDelay: 10_000 })
  await t.rejects(runner.ready())
  await sleep(20)
  const ready = runner.ready()
  await runner.close()
  await t.rejects(ready, { code: ErrorCode.CLOSED })
  t.equal(runner.spawns, 1)
})

t.test('stopping also stops what the runner spawned', async (t) => {
  const logger = recorder()
  const runner = new RunnerProcess({ cmd: cmd('grandchild'), logger })
  await runner.ready()
  await until(() => logger.lines.some((l) => l.includes('grandchild=')))
  const grandchild = Number(logger.lines.find((l) => l.includes('grandchild='))!.split('=')[1])
  t.ok(alive(grandchild))
  await runner.close()
  t.ok(await until(() => !alive(grandchild)), 'the process group is gone')
})

// Hosts run on tsx alone, without the test runner's loaders and exit hooks.
const hostEnv = { ...process.env, NODE_OPTIONS: '' }

// A Node process that starts a runner and then ends in the given way; prints the pid.
const host = (ending: string) => `
  import { RunnerProcess } from ${JSON.stringify(fileURLToPath(new URL('../../src/runner/process.ts', import.meta.url)))}
  const runner = new RunnerProcess({ cmd: ${JSON.stringify(cmd('ignore-sigterm'))} })
  await runner.ready()
  console.log(runner.pid + ' ' + runner.socketPath)
  ${ending}
`

for (const [name, ending] of [
  ['the event loop ends', ''],
  ['process.exit()', 'process.exit(0)'],
  ['an uncaught exception', 'setTimeout(() => { throw new Error("boom") })'],
  ['SIGTERM with no handler of its own', 'setInterval(() => {}, 1000); process.kill(process.pid, "SIGTERM")'],
] as const) {
  t.test(`no orphaned runner when Node ends: ${name}`, async (t) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', host(ending)], {
      encoding: 'utf8',
      timeout: 20_000,
      env: hostEnv,
    })
    const [pid, socketPath] = result.stdout.trim().split(' ')
    t.ok(Number(pid) > 0, `host printed a pid (stderr: ${result.stderr.slice(0, 300)})`)
    t.ok(await until(() => !alive(Number(pid))), 'runner is gone')
    t.notOk(existsSync(dirname(socketPath!)), 'socket directory removed')
  })
}

t.test('an application that handles SIGTERM itself keeps its runner until it closes it', async (t) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', host(`
      process.on('SIGTERM', async () => { console.log('draining'); setTimeout(async () => { await runner.close(); console.log('closed') }, 200) })
      setInterval(() => {}, 1000)
      setTimeout(() => process.exit(0), 3000)
    `)],
    { stdio: ['ignore', 'pipe', 'inherit'], env: hostEnv },
  )
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  await until(() => out.includes(' '), 10_000)
  const pid = Number(out.split(' ')[0])
  child.kill('SIGTERM')
  await until(() => out.includes('draining'))
  t.ok(alive(pid), 'runner still up while the application drains')
  t.ok(await until(() => out.includes('closed') && !alive(pid)), 'closed by the application')
  child.kill('SIGKILL')
})
