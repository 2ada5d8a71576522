// The runner process, managed as APISIX manages it (protocol.md §8): spawned from an argv
// (no shell) with APISIX_LISTEN_ADDRESS and APISIX_CONF_EXPIRE_TIME, its output logged
// line by line, respawned after it exits (the token cache is flushed at once: the new
// process knows none of the old tokens), and stopped with SIGTERM, a grace period, SIGKILL.
//
// Differences, on purpose: the socket lives in a private 0700 directory of its own, so two
// instances never collide and no other user can connect; `ready()` tells when the runner
// listens instead of leaving the first requests to fail; the process (and anything it
// spawns: it leads its own process group) dies with Node even when Node is not closed,
// and even when Node is SIGKILLed (watcher.ts); a stale socket file is removed before
// every start, whatever the runner does; a runner that keeps dying soon after its start
// is respawned less and less often (3 s doubling up to 30 s) instead of every 3 s forever.
// Each line it prints is logged at the level it was written at (output.ts). Spawns, exits
// and respawns are published on the runner-* diagnostics channels.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ErrorCode, ExtPluginError, RunnerStartError } from '../errors.js'
import { silentLogger, type Logger } from '../logger.js'
import { connectUnix } from '../rpc/connection.js'
import { runnerExitChannel, runnerRespawnChannel, runnerSpawnChannel } from '../diagnostics/channels.js'
import { onProcessExit } from './exit-hook.js'
import { OUTPUT_TAIL_LINES, type RunnerExitInfo, type RunnerHealth, type RunnerState } from './health.js'
import type { ManagedRunner } from './managed.js'
import { logOutput, OutputTail } from './output.js'
import { RunnerWatcher } from './watcher.js'

export interface RunnerProcessOptions {
  /** The runner's argv: `['./go-runner', 'run']`. */
  readonly cmd: readonly string[]
  /** Extra environment for the runner, on top of this process's own. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Seconds, passed as APISIX_CONF_EXPIRE_TIME. Default 3600. */
  readonly confExpireTime?: number | undefined
  /** Milliseconds to wait for the socket to accept connections. Default 10000. */
  readonly startTimeout?: number | undefined
  /** Milliseconds between an exit and the respawn. Default 3000, as APISIX. */
  readonly respawnDelay?: number | undefined
  /** The delay doubles for each runner that dies within `healthyUptime`, up to this. Default 30000. */
  readonly maxRespawnDelay?: number | undefined
  /** Milliseconds a runner must live for the respawn delay to start over. Default 60000. */
  readonly healthyUptime?: number | undefined
  /** Milliseconds between SIGTERM and SIGKILL on close. Default 1000, as APISIX. */
  readonly stopTimeout?: number | undefined
  readonly logger?: Logger | undefined
  /** Told when the runner exited (before any respawn), e.g. to flush conf tokens. */
  readonly onExit?: ((exit: RunnerExit) => void) | undefined
  /**
   * A private directory to put the socket in (a shared runner's); it is neither created
   * nor removed here, only the socket file. Default: a new directory of our own.
   */
  readonly directory?: string | undefined
  /** Told after every change of state (spawned, listening, exited, closed). */
  readonly onChange?: (() => void) | undefined
}

export interface RunnerExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107
const READY_POLL_MS = 20

export class RunnerProcess implements ManagedRunner {
  readonly socketPath: string
  readonly #dir: string
  readonly #options: RunnerProcessOptions
  readonly #logger: Logger
  #child: ChildProcess | undefined
  #ready!: Promise<void>
  #respawnTimer: NodeJS.Timeout | undefined
  /** Settles the readiness of a respawn that is still waiting for its delay. */
  #pendingRespawn: { resolve: () => void; reject: (err: unknown) => void } | undefined
  #closing: Promise<void> | undefined
  readonly #removeExitHook: () => void
  /** The last lines the runner printed, for the error when it fails to start and health(). */
  readonly #tail = new OutputTail(OUTPUT_TAIL_LINES)
  /** True when the directory is ours to remove. */
  readonly #ownDir: boolean
  #state: RunnerState = 'starting'
  #lastExit: RunnerExitInfo | undefined
  #spawns = 0
  /** When the current runner was started (performance.now()), to tell a crash loop. */
  #startedAt = 0
  /** Runners in a row that died before `healthyUptime`: the exponent of the backoff. */
  #shortLived = 0
  readonly #watcher: RunnerWatcher

  constructor(options: RunnerProcessOptions) {
    if (options.cmd.length === 0) throw new ExtPluginError(ErrorCode.INVALID_OPTIONS, 'runner.cmd must not be empty')
    this.#options = options
    this.#logger = options.logger ?? silentLogger
    this.#ownDir = options.directory === undefined
    this.#dir = options.directory ?? mkdtempSync(join(tmpdir(), 'apisix-ext-plugin-'))
    this.socketPath = join(this.#dir, 'runner.sock')
    if (Buffer.byteLength(this.socketPath) > MAX_SOCKET_PATH) {
      this.#removeFiles()
      throw new ExtPluginError(
        ErrorCode.INVALID_OPTIONS,
        `the runner socket path ${this.socketPath} is longer than ${MAX_SOCKET_PATH} bytes; set TMPDIR to a shorter directory`,
      )
    }
    this.#watcher = new RunnerWatcher()
    this.#removeExitHook = onProcessExit(() => this.#killNow())
    this.#setReady(this.#spawn())
  }

  /** The runner's pid, while one is running. */
  get pid(): number | undefined {
    return this.#child?.exitCode === null ? this.#child.pid : undefined
  }

  /** How many times the runner was started (1 + respawns). */
  get spawns(): number {
    return this.#spawns
  }

  /** How many times the runner was started again after an exit (`spawns` − 1). */
  get respawns(): number {
    return Math.max(0, this.#spawns - 1)
  }

  get state(): RunnerState {
    return this.#state
  }

  health(): RunnerHealth {
    return {
      state: this.#state,
      role: 'owner',
      pid: this.pid,
      restarts: this.respawns,
      lastExit: this.#lastExit,
      output: this.#tail.lines(),
      socketPath: this.socketPath,
    }
  }

  /** Resolves when the current runner accepts connections on the socket. */
  ready(): Promise<void> {
    return this.#ready
  }

  /** SIGTERM, then SIGKILL after the grace period; removes the socket directory. */
  close(): Promise<void> {
    this.#closing ??= this.#stop()
    return this.#closing
  }

  /** SIGKILL now; removes the socket directory. */
  destroy(): void {
    this.#closing ??= Promise.resolve()
    this.#cancelRespawn()
    this.#killNow()
    this.#watcher.close()
    this.#removeExitHook()
    this.#setState('down')
  }

  #spawn(): Promise<void> {
    const { cmd } = this.#options
    this.#spawns++
    this.#tail.clear()
    // A runner that died without unlinking its socket (SIGKILL, a crash, a runner that
    // never cleans up) would make the next one fail with EADDRINUSE; the directory is ours.
    rmSync(this.socketPath, { force: true })
    this.#startedAt = performance.now()
    const child = spawn(cmd[0]!, cmd.slice(1), {
      env: {
        ...process.env,
        ...this.#options.env,
        APISIX_LISTEN_ADDRESS: `unix:${this.socketPath}`,
        APISIX_CONF_EXPIRE_TIME: String(this.#options.confExpireTime ?? 3600),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that stopping it also stops what it spawned (a shell
      // script, npx, mvn) and a Ctrl-C meant for us is handled by us, not raced by it.
      detached: true,
    })
    this.#child = child
    if (child.pid !== undefined) this.#watcher.watch(child.pid)
    // The runner alone must not keep Node alive: the application's server does that.
    child.unref()
    logOutput(child.stdout, child.pid, this.#logger, this.#tail)
    logOutput(child.stderr, child.pid, this.#logger, this.#tail)
    if (runnerSpawnChannel.hasSubscribers) {
      runnerSpawnChannel.publish({ pid: child.pid, cmd, socketPath: this.socketPath, spawns: this.#spawns })
    }

    const started = new Promise<void>((resolve, reject) => {
      child.once('error', (err) => {
        // Spawning failed (no such file, not executable): nothing to respawn, as in APISIX.
        this.#child = undefined
        this.#setState('down')
        reject(new RunnerStartError(`failed to start the runner ${JSON.stringify(cmd)}: ${err.message}`, undefined, err))
      })
      child.once('exit', (code, signal) => {
        reject(
          new RunnerStartError(
            `the runner exited (${describeExit(code, signal)}) before listening on ${this.socketPath}${this.#outputTail()}`,
            { code, signal },
          ),
        )
        this.#onExit(child, code, signal)
      })
      this.#waitListening(child).then(() => {
        if (this.#child === child && this.#closing === undefined) this.#setState('up')
        resolve()
      }, reject)
    })
    return started
  }

  /** Callers of ready() see a rejection; an unobserved one must not become unhandled. */
  #setReady(ready: Promise<void>): void {
    ready.catch(() => {})
    this.#ready = ready
  }

  #cancelRespawn(): void {
    clearTimeout(this.#respawnTimer)
    this.#pendingRespawn?.reject(new ExtPluginError(ErrorCode.CLOSED, 'the runner was closed before it respawned'))
    this.#pendingRespawn = undefined
  }

  async #waitListening(child: ChildProcess): Promise<void> {
    const timeout = this.#options.startTimeout ?? 10_000
    const deadline = performance.now() + timeout
    while (child.exitCode === null && child.signalCode === null && this.#child === child) {
      try {
        const socket = await connectUnix(this.socketPath, Math.max(1, deadline - performance.now()))
        socket.destroy()
        return
      } catch {
        if (performance.now() >= deadline) {
          throw new RunnerStartError(`the runner did not listen on ${this.socketPath} within ${timeout} ms${this.#outputTail()}`)
        }
        await sleep(READY_POLL_MS)
      }
    }
    throw new RunnerStartError('the runner stopped before it listened')
  }

  #outputTail(): string {
    const lines = this.#tail.lines()
    return lines.length === 0 ? '' : `; its last output:\n${lines.join('\n')}`
  }

  #setState(state: RunnerState): void {
    if (this.#state === state) return
    this.#state = state
    this.#options.onChange?.()
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child === child) this.#child = undefined
    this.#watcher.watch(0)
    const expected = this.#closing !== undefined
    this.#lastExit = { pid: child.pid, code, signal, at: new Date().toISOString(), output: this.#tail.lines() }
    if (runnerExitChannel.hasSubscribers) {
      runnerExitChannel.publish({ pid: child.pid, cmd: this.#options.cmd, code, signal, expected })
    }
    if (expected) {
      this.#setState('down')
      return
    }
    if (code !== 0 || signal !== null) {
      this.#logger.warn({ pid: child.pid, code, signal }, `runner exited with reason: ${signal ? 'signal' : 'exit'}, status: ${signal ?? code}`)
    }
    this.#options.onExit?.({ code, signal })
    const delay = this.#respawnDelay()
    this.#logger.warn({ delay, cmd: this.#options.cmd }, `respawn runner ${delay / 1000} seconds later with cmd: ${JSON.stringify(this.#options.cmd)}`)
    if (runnerRespawnChannel.hasSubscribers) {
      runnerRespawnChannel.publish({ pid: child.pid, cmd: this.#options.cmd, code, signal, delay })
    }
    this.#setState('restarting')
    this.#setReady(new Promise<void>((resolve, reject) => (this.#pendingRespawn = { resolve, reject })))
    this.#respawnTimer = setTimeout(() => {
      const pending = this.#pendingRespawn!
      this.#pendingRespawn = undefined
      this.#logger.warn({}, 'respawning new runner...')
      const next = this.#spawn()
      this.#setReady(next)
      next.then(pending.resolve, pending.reject)
    }, delay)
  }

  /** 3 s, 6 s, 12 s, … 30 s for runners that keep dying early; 3 s again after a healthy run. */
  #respawnDelay(): number {
    const base = this.#options.respawnDelay ?? 3000
    const max = Math.max(base, this.#options.maxRespawnDelay ?? 30_000)
    const uptime = performance.now() - this.#startedAt
    if (uptime >= (this.#options.healthyUptime ?? 60_000)) this.#shortLived = 0
    const delay = Math.min(max, base * 2 ** Math.min(this.#shortLived, 30))
    this.#shortLived++
    return delay
  }

  async #stop(): Promise<void> {
    this.#cancelRespawn()
    const child = this.#child
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      this.#logger.info({ pid: child.pid }, `terminate runner ${child.pid} with SIGTERM`)
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      // Someone awaits close(): the wait for the exit must keep Node alive, or code after
      // `await close()` never runs once the grace timer has fired.
      child.ref()
      signalGroup(child, 'SIGTERM')
      const grace = this.#options.stopTimeout ?? 1000
      const graceful = await Promise.race([exited.then(() => true), sleep(grace, false)])
      if (!graceful) {
        this.#logger.warn({ pid: child.pid }, `runner ${child.pid} ignored SIGTERM for ${grace} ms: SIGKILL`)
        signalGroup(child, 'SIGKILL')
        await exited
      }
    }
    this.#watcher.close()
    this.#removeExitHook()
    this.#removeFiles()
    this.#setState('down')
  }

  #killNow(): void {
    const child = this.#child
    if (child !== undefined && child.exitCode === null && child.signalCode === null) signalGroup(child, 'SIGKILL')
    this.#removeFiles()
  }

  /** Our own directory goes; in a shared directory only the socket file is ours. */
  #removeFiles(): void {
    if (this.#ownDir) rmSync(this.#dir, { recursive: true, force: true })
    else rmSync(this.socketPath, { force: true })
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    child.kill(signal) // the group is gone or was never formed; try the process itself
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`
}
