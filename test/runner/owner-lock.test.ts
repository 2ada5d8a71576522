// The shared runner's ownership files: a first claim, a live holder respected, a dead one
// (gone, reused pid, corrupt claim) superseded, release, the private directory; and four
// processes racing for one directory, twice (empty, then with a dead owner): one owner.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { claimOwnership, isAlive, processStart, releaseOwnership, stillOwner } from '../../src/runner/owner-lock.js'
import { sharedDirectory } from '../../src/runner/shared-dir.js'

t.setTimeout(40_000)

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'owner-lock-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!
}

t.test('claims, a live holder, release', async (t) => {
  const dir = scratch(t)
  const first = claimOwnership(dir)
  t.same(first, { owner: true, generation: 1 })
  t.ok(stillOwner(dir, 1))
  const second = claimOwnership(dir)
  t.match(second, { owner: false, holder: { pid: process.pid, generation: 1, start: processStart(process.pid) } }, 'a live holder (even ourselves) is respected')
  releaseOwnership(dir, 1)
  t.same(readdirSync(dir), [], 'released: no file left')
  t.same(claimOwnership(dir), { owner: true, generation: 1 })
})

t.test('dead holders are superseded, never unlinked to take over', async (t) => {
  const dir = scratch(t)
  writeFileSync(join(dir, 'owner.4'), JSON.stringify({ pid: deadPid(), start: '1', generation: 4 }))
  t.same(claimOwnership(dir), { owner: true, generation: 5 }, 'a gone pid')
  t.same(readdirSync(dir), ['owner.5'], 'the dead generation is cleaned up by the new owner')

  rmSync(join(dir, 'owner.5'))
  writeFileSync(join(dir, 'owner.7'), JSON.stringify({ pid: process.pid, start: 'not-our-start-time', generation: 7 }))
  t.same(claimOwnership(dir), { owner: true, generation: 8 }, 'a pid reused by a process started at another time')

  rmSync(join(dir, 'owner.8'))
  writeFileSync(join(dir, 'owner.9'), '{"pid":')
  t.same(claimOwnership(dir), { owner: true, generation: 10 }, 'a corrupt claim')
  t.notOk(stillOwner(dir, 9))
})

t.test('liveness: a zombie is dead', async (t) => {
  // a child we do not reap yet: spawnSync reaps, so use a shell that leaves its child a zombie
  const parent = spawn('/bin/sh', ['-c', 'sleep 0 & echo $!; exec sleep 3'], { stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => parent.kill('SIGKILL'))
  const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d)))))
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.notOk(isAlive({ pid: zombie }), 'exited, not yet reaped')
  t.ok(isAlive({ pid: process.pid, start: processStart(process.pid) }))
})

t.test('the shared directory is private, and refused when it is not', async (t) => {
  const base = scratch(t)
  const dir = sharedDirectory(['./runner', 'run'], '/srv/app', base)
  t.equal(statSync(dir).mode & 0o777, 0o700)
  t.equal(sharedDirectory(['./runner', 'run'], '/srv/app', base), dir, 'the same key, the same directory')
  t.not(sharedDirectory(['./runner', 'run'], '/srv/other', base), dir, 'another working directory, another runner')
  t.not(sharedDirectory(['./runner'], '/srv/app', base), dir, 'another command, another runner')
  chmodSync(dir, 0o755)
  t.throws(() => sharedDirectory(['./runner', 'run'], '/srv/app', base), { code: 'EXT_ERR_INVALID_OPTIONS', message: /not a private directory/ })
})

const lockModule = fileURLToPath(new URL('../../src/runner/owner-lock.ts', import.meta.url))
// Waits for a common instant, claims, prints the claim, and stays alive (a live owner)
// until the test closes its stdin, once every contender has claimed.
const contender = (dir: string, at: number) => `
  import { claimOwnership } from ${JSON.stringify(lockModule)}
  while (Date.now() < ${at}) {}
  console.log(JSON.stringify(claimOwnership(${JSON.stringify(dir)})))
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
`

async function race(dir: string, n: number): Promise<Array<{ owner: boolean; generation?: number }>> {
  const at = Date.now() + 2500 // after every contender has started
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', contender(dir, at)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    }),
  )
  const claims = await Promise.all(
    children.map((child) => new Promise<{ owner: boolean; generation?: number }>((resolve) => child.stdout.once('data', (d) => resolve(JSON.parse(String(d)))))),
  )
  await Promise.all(children.map((child) => new Promise((resolve) => (child.once('exit', resolve), child.stdin.end()))))
  return claims
}

t.test('four processes race for one directory: exactly one owner, empty or taking over', async (t) => {
  const dir = join(scratch(t), 'shared')
  mkdirSync(dir, { mode: 0o700 })
  const first = await race(dir, 4)
  t.equal(first.filter((c) => c.owner).length, 1, `one owner of an empty directory: ${JSON.stringify(first)}`)
  // every contender has exited (after all had claimed): the owner is dead, the next race takes over
  const second = await race(dir, 4)
  const owners = second.filter((c) => c.owner)
  t.equal(owners.length, 1, `one owner takes over from a dead one: ${JSON.stringify(second)}`)
  t.equal(owners[0]!.generation, 2)
})
