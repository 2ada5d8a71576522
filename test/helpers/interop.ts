// Real runners for interop tests. Each is built by its script in test/interop before the
// suite runs (tap's `before`); a runner that is not built is a skip locally and a failure
// where EXT_PLUGIN_REQUIRE_INTEROP=1 (CI), so interop can never silently not run there.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import tap, { type Test } from 'tap'
import { RunnerClient, type RunnerClientOptions } from '../../src/rpc/client.js'
import { RunnerProcess, type RunnerProcessOptions } from '../../src/runner/process.js'

export interface RealRunner {
  readonly name: string
  readonly cmd: readonly string[]
  /** The file whose presence means the runner was built. */
  readonly artifact: string
  readonly env?: Readonly<Record<string, string>>
  readonly startTimeout?: number
}

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

export const goRunner: RealRunner = {
  name: 'go',
  artifact: here('../interop/go-runner/bin/go-runner'),
  cmd: [here('../interop/go-runner/bin/go-runner')],
  // The runner logs every frame at info; errors are what a failing test wants to see.
  env: { GO_RUNNER_LOG_LEVEL: 'error' },
}

const javaTarget = here('../interop/java-runner/target/')
export const javaRunner: RealRunner = {
  name: 'java',
  artifact: javaTarget + 'java-runner.jar',
  // C1 only and a class-data archive: about 0.7 s to listen instead of 2 (java-runner/README.md)
  cmd: ['java', '-XX:TieredStopAtLevel=1', '-Xmx256m', `-XX:SharedArchiveFile=${javaTarget}java-runner.jsa`, '-jar', javaTarget + 'java-runner.jar'],
  env: { JAVA_RUNNER_LOG_LEVEL: 'error' },
  startTimeout: 30_000,
}

export const interopRequired = process.env.EXT_PLUGIN_REQUIRE_INTEROP === '1'

/**
 * Test options that skip a test when the runner is not built. Where interop is required
 * the missing runner is also reported as a failure of the whole file.
 */
export function whenBuilt(runner: RealRunner): { skip: string | false } {
  if (existsSync(runner.artifact)) return { skip: false }
  const why = `the ${runner.name} runner is not built (${runner.artifact})`
  if (interopRequired) tap.fail(`${why}, and EXT_PLUGIN_REQUIRE_INTEROP=1`)
  return { skip: why }
}

export interface StartedRunner {
  readonly process: RunnerProcess
  readonly client: RunnerClient
}

/** Starts the runner and a client for it; both are stopped when `t` ends. */
export async function startRunner(
  t: Test,
  runner: RealRunner,
  options: { process?: Partial<RunnerProcessOptions>; client?: Partial<RunnerClientOptions>; flushOnExit?: boolean } = {},
): Promise<StartedRunner> {
  let client: RunnerClient | undefined
  const process = new RunnerProcess({
    cmd: runner.cmd,
    env: runner.env,
    startTimeout: runner.startTimeout ?? 10_000,
    ...options.process,
    onExit: options.flushOnExit === false ? undefined : () => client?.flushTokens(),
  })
  client = new RunnerClient({ socketPath: process.socketPath, ...options.client })
  t.teardown(async () => {
    client!.destroy()
    await process.close()
  })
  await process.ready()
  return { process, client }
}

/**
 * This package's own runner (apisix-ext-plugin/runner), started as APISIX would start it:
 * the bin script in its own process, here run on the TypeScript sources through tsx.
 * Nothing to build, so it never skips.
 */
export const tsRunner: RealRunner = {
  name: 'ts',
  artifact: here('../../bin/apisix-ext-plugin-runner.mjs'),
  cmd: [
    process.execPath,
    '--import',
    'tsx',
    here('../../bin/apisix-ext-plugin-runner.mjs'),
    here('../interop/ts-runner/plugins.ts'),
  ],
  env: { APISIX_EXT_PLUGIN_RUNNER_SOURCE: '1', APISIX_EXT_PLUGIN_RUNNER_LOG_LEVEL: 'error' },
}
