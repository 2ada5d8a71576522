// One runner per host for the processes of a cluster (node:cluster, PM2): `runner: { cmd,
// shared: true }`. They meet in a private directory keyed by the user, the command and the
// working directory (shared-dir.ts). The first to claim it (owner-lock.ts) spawns and
// supervises the runner there with RunnerProcess; the others attach: they use its socket,
// and hear from the owner over a control socket (control.ts) whenever the runner changes.
//
// Conf tokens: every process prepares its own, but all of them belong to one runner
// process, so when it exits every attached process flushes too (the owner broadcasts the
// exit before the respawn, as APISIX's workers flush on the runner's exit event), and so
// does any process that sees a runner it has not seen before, or loses its owner.
//
// The owner going away: its control connections close (the kernel does that however it
// dies), its watcher kills its runner, and the attached processes race for the next owner
// generation; exactly one wins and starts a runner at once (after killing the old one if it
// is somehow still there), the others attach to it. A clean close of the owner stops its
// runner and gives ownership up the same way, so a rolling restart keeps a runner.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ErrorCode, ExtPluginError, RunnerStartError } from '../errors.js'
import { silentLogger, type Logger } from '../logger.js'
import { ControlClient, ControlServer, type SharedStatus } from './control.js'
import { onProcessExit } from './exit-hook.js'
import type { RunnerHealth, RunnerRole, RunnerState } from './health.js'
import type { ManagedRunner } from './managed.js'
import { claimOwnership, isAlive, processStart, releaseOwnership, stillOwner, type OwnerRecord } from './owner-lock.js'
import { RunnerProcess, type RunnerExit, type RunnerProcessOptions } from './process.js'
import { sharedDirectory } from './shared-dir.js'

export interface SharedRunnerOptions extends Omit<RunnerProcessOptions, 'directory' | 'onChange'> {
  /** Where the shared directory is made. Default: os.tmpdir(). */
  readonly baseDirectory?: string | undefined
  /** Milliseconds between the owner's checks that it still owns, and retries to attach. Default 1000. */
  readonly checkInterval?: number | undefined
}

/** The previous runner, so that a new owner can make sure it is gone. */
interface RunnerRecord {
  readonly pid: number
  readonly start: string | undefined
  readonly restarts: number
}

const RUNNER_RECORD = 'runner.json'
const CONTROL_SOCKET = 'control.sock'
const ATTACH_RETRY_MS = 25

type Role = RunnerRole | 'closed'

interface Waiter {
  resolve(): void
  reject(err: unknown): void
}

export class SharedRunner implements ManagedRunner {
  readonly socketPath: string
  readonly directory: string
  readonly #options: SharedRunnerOptions
  readonly #logger: Logger
  readonly #confExpireTime: number
  #role: Role = 'electing'
  /** What we were when closed, for health(). */
  #lastRole: RunnerRole = 'electing'
  /** Owner: the generation we hold, our runner, our control server. */
  #generation = 0
  #process: RunnerProcess | undefined
  #server: ControlServer | undefined
  #restartsBefore = 0
  /** Attached: the owner's connection and what it last said. */
  #control: ControlClient | undefined
  #status: SharedStatus | undefined
  /** Which runner our conf tokens belong to (`owner:generation:spawns`). */
  #epoch: string | undefined
  #wasUp = false
  #timer: NodeJS.Timeout | undefined
  #waiters: Waiter[] = []
  #closing: Promise<void> | undefined
  #warnedExpire = false
  readonly #removeExitHook: () => void

  constructor(options: SharedRunnerOptions) {
    if (options.cmd.length === 0) throw new ExtPluginError(ErrorCode.INVALID_OPTIONS, 'runner.cmd must not be empty')
    this.#options = options
    this.#logger = options.logger ?? silentLogger
    this.#confExpireTime = options.confExpireTime ?? 3600
    this.directory = sharedDirectory(options.cmd, process.cwd(), options.baseDirectory)
    this.socketPath = join(this.directory, 'runner.sock')
    // An owner that ends without close() (process.exit, a signal) gives ownership up at
    // once instead of leaving the others to find its pid dead; its runner dies with it.
    this.#removeExitHook = onProcessExit(() => {
      if (this.#role === 'owner') this.#release()
    })
    this.#elect()
  }

  get role(): RunnerRole {
    return this.#role === 'closed' ? this.#lastRole : this.#role
  }

  get pid(): number | undefined {
    if (this.#role === 'owner') return this.#process?.pid
    return this.#status?.state === 'up' ? this.#status.pid : undefined
  }

  /** Runners started by this process while it owned the shared runner. */
  get spawns(): number {
    if (this.#role === 'owner') return this.#process?.spawns ?? 0
    return this.#status?.spawns ?? 0
  }

  /** Restarts of the shared runner, by whichever process owned it. */
  get respawns(): number {
    if (this.#role === 'owner') return this.#restartsBefore + (this.#process?.respawns ?? 0)
    return this.#status?.restarts ?? 0
  }

  get state(): RunnerState {
    if (this.#role === 'closed') return 'down'
    if (this.#role === 'owner') return this.#process?.state ?? (this.#wasUp ? 'restarting' : 'starting')
    if (this.#role === 'attached' && this.#status !== undefined) return this.#status.state
    return this.#wasUp ? 'restarting' : 'starting'
  }

  health(): RunnerHealth {
    const own = this.#role === 'owner' ? this.#process?.health() : undefined
    return {
      state: this.state,
      role: this.role,
      pid: this.pid,
      restarts: this.respawns,
      lastExit: own?.lastExit ?? this.#status?.lastExit,
      output: own?.output ?? [],
      socketPath: this.socketPath,
    }
  }

  /** Resolves when the shared runner accepts connections. */
  ready(): Promise<void> {
    if (this.#role === 'closed') return Promise.reject(new ExtPluginError(ErrorCode.CLOSED, 'the shared runner was closed'))
    if (this.#role === 'owner' && this.#process !== undefined) return this.#process.ready()
    if (this.state === 'up') return Promise.resolve()
    if (this.state === 'down') return Promise.reject(this.#downError())
    const timeout = (this.#options.startTimeout ?? 10_000) + 5000
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        reject(new RunnerStartError(`the shared runner at ${this.socketPath} was not up within ${timeout} ms (${this.role}, ${this.state})`))
      }, timeout)
      timer.unref()
      const waiter: Waiter = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (err) => (clearTimeout(timer), reject(err)),
      }
      this.#waiters.push(waiter)
    })
  }

  close(): Promise<void> {
    this.#closing ??= this.#stop(false)
    return this.#closing
  }

  destroy(): void {
    this.#closing ??= this.#stop(true)
  }

  // ---- election ---------------------------------------------------------------------

  #elect(): void {
    if (this.#role === 'closed') return
    this.#role = 'electing'
    let claim
    try {
      claim = claimOwnership(this.directory)
    } catch (err) {
      this.#logger.error({ err, dir: this.directory }, `shared runner: claiming ownership failed: ${(err as Error).message}`)
      this.#retry(() => this.#elect())
      return
    }
    if (claim.owner) void this.#own(claim.generation)
    else {
      this.#logger.debug({ owner: claim.holder.pid, generation: claim.holder.generation }, `shared runner: attaching to the runner owned by ${claim.holder.pid}`)
      this.#attach(claim.holder)
    }
  }

  #retry(action: () => void, ms = this.#options.checkInterval ?? 1000): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(action, ms)
    this.#timer.unref()
  }

  // ---- owner ------------------------------------------------------------------------

  async #own(generation: number): Promise<void> {
    this.#role = 'owner'
    this.#generation = generation
    // whatever we prepared belonged to another runner; ours flushes on its own exits
    this.#epoch = undefined
    this.#forgetTokens()
    const previous = this.#readRunnerRecord()
    this.#restartsBefore = previous === undefined ? 0 : previous.restarts + 1
    // The previous owner's watcher kills its runner when it dies; make sure, so that the
    // socket has one runner behind it.
    if (previous !== undefined && isAlive(previous)) {
      this.#logger.warn({ pid: previous.pid }, `shared runner: the previous owner's runner ${previous.pid} is still running: SIGKILL`)
      killGroup(previous.pid)
      const end = performance.now() + 2000
      while (isAlive(previous) && performance.now() < end) await sleep(10)
    }
    if (this.#role !== 'owner') return // closed meanwhile
    this.#logger.info({ generation, dir: this.directory }, `shared runner: this process (${process.pid}) owns the runner`)
    this.#server = new ControlServer(join(this.directory, CONTROL_SOCKET), () => this.#ownerStatus(), (err) =>
      this.#logger.error({ err }, `shared runner: control socket failed: ${err.message}`),
      () => this.#logger.debug({}, 'shared runner: control socket listening'),
    )
    const runner = new RunnerProcess({
      ...this.#options,
      directory: this.directory,
      onExit: (exit) => this.#options.onExit?.(exit),
      onChange: () => this.#ownerChanged(runner),
    })
    this.#process = runner
    this.#ownerChanged(runner)
    runner.ready().then(
      () => this.#settle(),
      (err: unknown) => this.#rejectWaiters(err),
    )
    this.#checkOwnership()
  }

  #ownerChanged(runner: RunnerProcess): void {
    if (this.#process !== runner) return
    if (runner.pid !== undefined) this.#writeRunnerRecord(runner.pid)
    if (runner.state === 'up') this.#wasUp = true
    this.#server?.broadcast()
    if (runner.state === 'up') this.#settle()
    else if (runner.state === 'down') this.#rejectWaiters(this.#downError())
  }

  #ownerStatus(): SharedStatus {
    const runner = this.#process
    const state = runner?.state ?? 'starting'
    return {
      owner: process.pid,
      generation: this.#generation,
      // an owner closing hands over: to the others the runner is restarting, not down
      state: this.#role === 'closed' && state === 'down' ? 'restarting' : state,
      pid: runner?.pid,
      spawns: runner?.spawns ?? 0,
      restarts: this.respawns,
      lastExit: runner?.health().lastExit,
      confExpireTime: this.#confExpireTime,
    }
  }

  /** A safety net: if someone judged us dead and took over, stop being an owner. */
  #checkOwnership(): void {
    this.#retry(() => {
      if (this.#role !== 'owner') return
      if (stillOwner(this.directory, this.#generation)) return this.#checkOwnership()
      this.#logger.error({ generation: this.#generation }, 'shared runner: another process took ownership over; stopping this runner and attaching')
      this.#process?.destroy()
      this.#process = undefined
      this.#server?.close()
      this.#server = undefined
      this.#elect()
    })
  }

  #release(): void {
    releaseOwnership(this.directory, this.#generation)
  }

  #writeRunnerRecord(pid: number): void {
    const record: RunnerRecord = { pid, start: processStart(pid), restarts: this.respawns }
    try {
      writeFileSync(join(this.directory, RUNNER_RECORD), JSON.stringify(record), { mode: 0o600 })
    } catch {
      // only a help for the next owner
    }
  }

  #readRunnerRecord(): RunnerRecord | undefined {
    try {
      const record = JSON.parse(readFileSync(join(this.directory, RUNNER_RECORD), 'utf8')) as Partial<RunnerRecord>
      if (typeof record.pid !== 'number') return undefined
      return { pid: record.pid, start: record.start, restarts: typeof record.restarts === 'number' ? record.restarts : 0 }
    } catch {
      return undefined
    }
  }

  // ---- attached ---------------------------------------------------------------------

  #attach(holder: OwnerRecord): void {
    this.#control = new ControlClient(join(this.directory, CONTROL_SOCKET), {
      onStatus: (status) => this.#onStatus(status, holder),
      onLost: () => {
        this.#control = undefined
        if (this.#role === 'closed') return
        this.#logger.warn({ owner: holder.pid }, `shared runner: its owner ${holder.pid} went away; electing a new one`)
        this.#status = undefined
        this.#tokensBelongTo(undefined)
        this.#elect()
      },
      onRefused: (err) => {
        this.#control = undefined
        if (this.#role === 'closed') return
        // The owner has not opened its control socket yet, or it died: look again.
        this.#logger.debug({ owner: holder.pid, alive: isAlive(holder) }, `shared runner: the owner's control socket refused the connection: ${err.message}`)
        if (isAlive(holder)) this.#retry(() => this.#attachOrElect(holder), ATTACH_RETRY_MS)
        else this.#elect()
      },
    })
  }

  /**
   * The control connection's close is how we hear of the owner's end; this check is the
   * net under it (a connection the kernel never closes, a pid namespace where it is not).
   */
  #watchOwner(holder: OwnerRecord): void {
    this.#retry(() => {
      if (this.#role !== 'attached') return
      if (isAlive(holder)) return this.#watchOwner(holder)
      this.#logger.warn({ owner: holder.pid }, `shared runner: its owner ${holder.pid} is gone; electing a new one`)
      this.#control?.close()
      this.#control = undefined
      this.#status = undefined
      this.#tokensBelongTo(undefined)
      this.#elect()
    })
  }

  #attachOrElect(holder: OwnerRecord): void {
    if (this.#role === 'closed') return
    if (isAlive(holder) && stillOwner(this.directory, holder.generation)) this.#attach(holder)
    else this.#elect()
  }

  #onStatus(status: SharedStatus, holder: OwnerRecord): void {
    if (this.#role === 'closed') return
    if (this.#role !== 'attached') {
      this.#role = 'attached'
      this.#watchOwner(holder)
      this.#logger.info({ owner: status.owner, generation: status.generation }, `shared runner: attached to the runner owned by ${status.owner}`)
    }
    this.#status = status
    if (status.confExpireTime !== this.#confExpireTime && !this.#warnedExpire) {
      this.#warnedExpire = true
      this.#logger.warn(
        { confExpireTime: status.confExpireTime },
        `shared runner: its owner gave the runner confExpireTime ${status.confExpireTime}, this process has ${this.#confExpireTime}; the runner's applies`,
      )
    }
    this.#tokensBelongTo(status.state === 'up' ? `${status.owner}:${status.generation}:${status.spawns}` : undefined, status)
    if (status.state === 'up') {
      this.#wasUp = true
      this.#settle()
    } else if (status.state === 'down') {
      this.#rejectWaiters(this.#downError())
    }
  }

  /**
   * Our tokens belong to the runner `epoch` (undefined: none is up). Any other runner
   * than the one they were prepared with knows none of them: flush (cheap when empty).
   */
  #tokensBelongTo(epoch: string | undefined, status?: SharedStatus): void {
    if (epoch === this.#epoch) return
    this.#epoch = epoch
    this.#forgetTokens(status)
  }

  #forgetTokens(status?: SharedStatus): void {
    const exit: RunnerExit = { code: status?.lastExit?.code ?? null, signal: (status?.lastExit?.signal as NodeJS.Signals | null | undefined) ?? null }
    this.#options.onExit?.(exit)
  }

  // ---- readiness and closing --------------------------------------------------------

  #settle(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) waiter.resolve()
  }

  #rejectWaiters(err: unknown): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) waiter.reject(err)
  }

  #downError(): RunnerStartError {
    const exit = this.health().lastExit
    const tail = exit !== undefined && exit.output.length > 0 ? `; its last output:\n${exit.output.join('\n')}` : ''
    return new RunnerStartError(`the shared runner ${JSON.stringify(this.#options.cmd)} could not be started${tail}`)
  }

  async #stop(now: boolean): Promise<void> {
    const wasOwner = this.#role === 'owner'
    if (this.#role !== 'closed') this.#lastRole = this.#role
    this.#role = 'closed'
    clearTimeout(this.#timer)
    this.#control?.close()
    this.#control = undefined
    const runner = this.#process
    if (wasOwner) {
      if (now) runner?.destroy()
      else await runner?.close()
      // A clean end: the next owner starts from no restarts and finds no runner to kill.
      rmSync(join(this.directory, RUNNER_RECORD), { force: true })
      this.#release()
      this.#server?.close()
      this.#server = undefined
    }
    this.#removeExitHook()
    this.#rejectWaiters(new ExtPluginError(ErrorCode.CLOSED, 'the shared runner was closed'))
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
}
