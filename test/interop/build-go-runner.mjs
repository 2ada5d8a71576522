// Builds test/interop/go-runner/bin/go-runner when Go is available.
// Run as a script: `node test/interop/build-go-runner.mjs`.
// Without Go: exit 1 if EXT_PLUGIN_REQUIRE_INTEROP=1 (CI), else a notice and exit 0.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mtime, newestFile, works } from './build-support.mjs'

const dir = join(dirname(fileURLToPath(import.meta.url)), 'go-runner')
const bin = join(dir, 'bin', 'go-runner')
const required = process.env.EXT_PLUGIN_REQUIRE_INTEROP === '1'

function log(msg) {
  process.stderr.write(`build-go-runner: ${msg}\n`)
}

// The sources that go into the binary (bin/ and dot-directories are skipped).
const newestSource = (d) =>
  newestFile(d, (name) => /\.go$|^go\.(mod|sum)$/.test(name), (name) => name === 'bin' || name.startsWith('.'))

if (!works('go', ['version'])) {
  if (required) {
    log('`go` is not on PATH but EXT_PLUGIN_REQUIRE_INTEROP=1: cannot build the Go runner for the interop tests')
    process.exit(1)
  }
  log('`go` is not on PATH: skipping the Go runner build (interop tests will be skipped)')
  process.exit(0)
}

const built = mtime(bin)
if (built > 0 && built >= newestSource(dir)) {
  log(`up to date: ${bin}`)
  process.exit(0)
}

log(`building ${bin}`)
const r = spawnSync('go', ['build', '-o', 'bin/go-runner', '.'], { cwd: dir, stdio: 'inherit' })
if (r.error || r.status !== 0) {
  log(`go build failed${r.error ? `: ${r.error.message}` : ` (exit ${r.status ?? r.signal})`}`)
  process.exit(1)
}
