// What `ext.health()` reports about the runner: one state, who supervises it, and enough
// of its recent past (exit, output) to tell a readiness probe and an operator why.

/**
 * `starting`: no runner has listened yet (first spawn, or attaching to a shared owner);
 * `up`: the runner accepts connections; `restarting`: it exited and a new one is on its
 * way (respawn delay, or a new owner taking over a shared runner); `down`: closed, or it
 * cannot be started (the command does not exist).
 */
export type RunnerState = 'starting' | 'up' | 'restarting' | 'down'

/**
 * `owner`: this process spawns and supervises the runner (the default, and the elected
 * process of a shared runner); `attached`: another process owns the shared runner and this
 * one uses its socket; `electing`: the owner went away and a new one is being chosen;
 * `external`: the runner was started elsewhere (`runner: { socket }`).
 */
export type RunnerRole = 'owner' | 'attached' | 'electing' | 'external'

export interface RunnerExitInfo {
  readonly pid: number | undefined
  /** Exit status; null when a signal ended it. */
  readonly code: number | null
  readonly signal: string | null
  /** When it exited, ISO 8601. */
  readonly at: string
  /** Its last lines of output (stdout and stderr). */
  readonly output: readonly string[]
}

export interface RunnerHealth {
  readonly state: RunnerState
  readonly role: RunnerRole
  /** The runner's pid while one runs (the owner's runner, for an attached process). */
  readonly pid: number | undefined
  /** Times the runner was started again after an exit (by whichever process owned it). */
  readonly restarts: number
  readonly lastExit: RunnerExitInfo | undefined
  /** The current runner's last lines of output (owner only; empty when attached). */
  readonly output: readonly string[]
  /** The runner's socket. */
  readonly socketPath: string
}

/** Lines of runner output kept for health() and start errors. */
export const OUTPUT_TAIL_LINES = 50
