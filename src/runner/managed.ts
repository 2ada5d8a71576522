// What ExtPlugin needs of a runner it manages: its own process (RunnerProcess) or one
// shared by the processes of a cluster (SharedRunner).
import type { RunnerHealth, RunnerState } from './health.js'

export interface ManagedRunner {
  /** The runner's Unix socket. */
  readonly socketPath: string
  /** The runner's pid while one runs. */
  readonly pid: number | undefined
  /** Runners started (by this process, for a shared runner). */
  readonly spawns: number
  /** Times the runner was started again after an exit. */
  readonly respawns: number
  readonly state: RunnerState
  health(): RunnerHealth
  /** Resolves when the runner accepts connections. */
  ready(): Promise<void>
  /** Stops the runner (SIGTERM, grace, SIGKILL), or detaches from a shared one. */
  close(): Promise<void>
  destroy(): void
}
