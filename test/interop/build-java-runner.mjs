// Builds test/interop/java-runner (the Apache APISIX Java Plugin Runner 0.4.0 with our
// test plugins) when Maven and Java are available, then records a CDS archive that
// makes the runner start about twice as fast. Run as a script:
//   node test/interop/build-java-runner.mjs
// Outputs (git-ignored): java-runner/target/java-runner.jar (+ target/lib/) and
// java-runner/target/java-runner.jsa. See java-runner/README.md for the command line.
// Without mvn/java: exit 1 if EXT_PLUGIN_REQUIRE_INTEROP=1 (CI), else a notice and exit 0.
import { spawn, spawnSync } from 'node:child_process'
import { renameSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mtime, newestFile, works } from './build-support.mjs'

const dir = join(dirname(fileURLToPath(import.meta.url)), 'java-runner')
const target = join(dir, 'target')
const jar = join(target, 'java-runner.jar')
const archive = join(target, 'java-runner.jsa')
const required = process.env.EXT_PLUGIN_REQUIRE_INTEROP === '1'

// The JVM options the runner is meant to be started with (README.md). The archive
// is recorded with the same ones.
const JVM_OPTIONS = ['-XX:TieredStopAtLevel=1', '-Xmx256m']

function log(msg) {
  process.stderr.write(`build-java-runner: ${msg}\n`)
}

// What goes into the jar: pom.xml and everything under src/.
const newestSource = (d) => newestFile(d)

const missing = ['mvn', 'java'].filter((cmd) => !works(cmd, cmd === 'mvn' ? ['-v'] : ['-version']))
if (missing.length > 0) {
  const what = missing.map((m) => `\`${m}\``).join(' and ')
  if (required) {
    log(`${what} not on PATH but EXT_PLUGIN_REQUIRE_INTEROP=1: cannot build the Java runner for the interop tests`)
    process.exit(1)
  }
  log(`${what} not on PATH: skipping the Java runner build (its interop tests will be skipped)`)
  process.exit(0)
}

const built = mtime(jar)
const upToDate = built > 0 && built >= Math.max(mtime(join(dir, 'pom.xml')), newestSource(join(dir, 'src')))
if (upToDate && mtime(archive) >= built) {
  log(`up to date: ${jar}`)
  process.exit(0)
}

if (!upToDate) {
  log(`building ${jar} (the first build downloads its dependencies into ~/.m2)`)
  // Jars of dependencies that were dropped would otherwise linger in target/lib/.
  rmSync(join(target, 'lib'), { recursive: true, force: true })
  const r = spawnSync('mvn', ['-q', '-B', 'package', '-DskipTests'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 })
  // -q leaves only errors, plus colour resets that Debian's Maven prints even with -B.
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '').trim()
  if (output) process.stderr.write(`${output}\n`)
  if (r.error || r.status !== 0) {
    log(`mvn package failed${r.error ? `: ${r.error.message}` : ` (exit ${r.status ?? r.signal})`}`)
    process.exit(1)
  }
}

// ---- CDS archive -------------------------------------------------------------
// A training run with -XX:ArchiveClassesAtExit: start the runner, make it load its
// request path, stop it with SIGTERM; the JVM writes the archive as it exits. The
// archive is optional: the JVM ignores a missing one silently and a stale one with
// a one-line warning, so a failure here is only reported.

// Smallest valid FlatBuffers tables (protocol.md §3): an empty PrepareConf.Req, and
// an HTTPReqCall.Req holding only conf_token (field 6), filled in below.
const EMPTY_TABLE = Buffer.from('080000000400040004000000', 'hex')
function frame(type, payload) {
  const header = Buffer.from([type, 0, 0, 0])
  header.writeUIntBE(payload.length, 1, 3)
  return Buffer.concat([header, payload])
}
function reqCallWithToken(token) {
  const p = Buffer.alloc(32)
  p.writeUInt32LE(24, 0) // root table at 24
  p.writeUInt16LE(18, 4) // vtable at 4: 18 bytes (7 fields)
  p.writeUInt16LE(8, 6) // table: 8 bytes
  p.writeUInt16LE(4, 20) // field 6 (conf_token) at table + 4
  p.writeInt32LE(24 - 4, 24) // table -> vtable
  p.writeUInt32LE(token, 28)
  return p
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Resolves with the socket once the runner accepts connections.
async function waitForSocket(path, child, timeoutMs) {
  const end = Date.now() + timeoutMs
  while (Date.now() < end && child.exitCode === null) {
    const socket = await new Promise((resolve) => {
      const s = connect(path)
      s.once('connect', () => resolve(s))
      s.once('error', () => resolve(undefined))
    })
    if (socket) return socket
    await sleep(20)
  }
  throw new Error(child.exitCode === null ? 'the runner did not listen in time' : `the runner exited (${child.exitCode})`)
}

// Sends one frame and resolves with the first frame of the answer (type, payload).
function exchange(socket, bytes) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const onData = (chunk) => {
      buf = Buffer.concat([buf, chunk])
      if (buf.length < 4) return
      const len = buf.readUIntBE(1, 3)
      if (buf.length < 4 + len) return
      socket.off('data', onData)
      resolve([buf[0], buf.subarray(4, 4 + len)])
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.write(bytes)
  })
}

async function train() {
  const sock = join(tmpdir(), `build-java-runner-${process.pid}.sock`)
  const partial = `${archive}.${process.pid}.partial`
  rmSync(partial, { force: true })
  const child = spawn('java', [...JVM_OPTIONS, `-XX:ArchiveClassesAtExit=${partial}`, '-jar', jar], {
    env: { ...process.env, APISIX_LISTEN_ADDRESS: `unix:${sock}`, APISIX_CONF_EXPIRE_TIME: '3600', JAVA_RUNNER_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  try {
    const socket = await waitForSocket(sock, child, 60_000)
    // The runner answers a PrepareConf twice; the extra copy is simply left unread.
    const [type, payload] = await exchange(socket, frame(1, EMPTY_TABLE))
    if (type === 1) {
      const token = payload.readUInt32LE(payload.readUInt32LE(0) + 4)
      socket.destroy()
      const again = await waitForSocket(sock, child, 5000)
      await exchange(again, frame(2, reqCallWithToken(token)))
      again.destroy()
    } else {
      socket.destroy()
    }
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    rmSync(sock, { force: true })
    throw new Error(`${err.message}\n${output}`)
  }
  child.kill('SIGTERM')
  const { code, signal } = await exited
  rmSync(sock, { force: true }) // the runner leaves its socket file behind
  try {
    renameSync(partial, archive)
  } catch {
    rmSync(partial, { force: true })
    throw new Error(`no archive written (runner exit ${code ?? signal})\n${output}`)
  }
}

rmSync(archive, { force: true })
log(`recording the CDS archive ${archive}`)
try {
  await train()
} catch (err) {
  log(`could not record the CDS archive (the runner still works, it just starts slower): ${err.message}`)
}
