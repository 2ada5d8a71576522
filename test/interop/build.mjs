// Builds every real runner the interop tests use (run once by tap's `before`).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const scripts = ['build-go-runner.mjs', 'build-java-runner.mjs']
let failed = false
for (const script of scripts) {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], { stdio: 'inherit' })
  failed ||= r.status !== 0
}
process.exit(failed ? 1 : 0)
