// The programs the benchmarks run: the Go test runner, the Go echo (the floor of a runner
// call), this package's TypeScript runner and its no-op plugin.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
export const GO_RUNNER = here('../test/interop/go-runner/bin/go-runner')
const GO_ECHO_DIR = here('go-echo')
export const GO_ECHO = here('go-echo/bin/go-echo')
export const TS_RUNNER_BIN = here('../bin/apisix-ext-plugin-runner.mjs')
export const NOOP_PLUGINS = here('noop-plugins.mjs')

export function buildGoPrograms(): void {
  if (!existsSync(GO_RUNNER)) spawnSync(process.execPath, [here('../test/interop/build-go-runner.mjs')], { stdio: 'inherit' })
  if (!existsSync(GO_ECHO)) spawnSync('go', ['build', '-o', 'bin/go-echo', '.'], { cwd: GO_ECHO_DIR, stdio: 'inherit' })
  if (!existsSync(GO_RUNNER) || !existsSync(GO_ECHO)) throw new Error('the benchmarks need Go to build test/interop/go-runner and bench/go-echo')
}

/** The TypeScript runner's argv; with BENCH_SOURCE=src it runs the sources through tsx. */
export function tsRunnerCmd(): string[] {
  return process.env.BENCH_SOURCE === 'src'
    ? [process.execPath, '--import', 'tsx', TS_RUNNER_BIN, NOOP_PLUGINS]
    : [process.execPath, TS_RUNNER_BIN, NOOP_PLUGINS]
}
