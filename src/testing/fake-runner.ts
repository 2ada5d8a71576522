// fakeRunner(): a real runner (apisix-ext-plugin/runner) behind a relay that records what
// the gateway sent and can fail on demand, listening in a private temporary directory.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RunnerStartError } from '../errors.js'
import { createRunner, type Runner, type RunnerOptions } from '../runner-server/runner.js'
import { FaultQueue, type Fault, type FaultKind, type FaultOptions } from './faults.js'
import type { CallRecord, ConfEntry, PrepareRecord } from './records.js'
import { Relay, type RelayHost } from './relay.js'

/** The runner's options (plugins written as for apisix-ext-plugin/runner), minus where it listens. */
export type FakeRunnerOptions = Omit<RunnerOptions, 'socketMode'>

export interface FakeRunner {
  /** The socket path to give `createExtPlugin({ runner: { socket } })`. */
  readonly socket: string
  /** Every PrepareConf, in order, with the token the runner answered. */
  readonly prepares: readonly PrepareRecord[]
  /** Every HTTPReqCall and HTTPRespCall, in order, with the runner's reply. */
  readonly calls: readonly CallRecord[]
  /**
   * Makes the runner fail instead of answering: once by default, `{ times: n }`, or
   * `{ times: 'always' }` until `fault.clear()` or `runner.clearFaults()`; on the next call
   * by default, or `{ on: 'request' | 'response' | 'prepare' }`.
   */
  fail(kind: FaultKind, options?: FaultOptions): Fault
  /** Disarms every fault. */
  clearFaults(): void
  /** Forgets the records and disarms every fault (the runner keeps its confs). */
  reset(): void
  /** Closes the connections, stops the runner, removes the temporary directory. */
  close(): Promise<void>
}

class FakeRunnerImpl implements FakeRunner, RelayHost {
  readonly socket: string
  readonly prepares: PrepareRecord[] = []
  readonly calls: CallRecord[] = []
  readonly faults = new FaultQueue()
  readonly confs = new Map<number, readonly ConfEntry[]>()
  readonly runnerPath: string
  readonly #dir: string
  readonly #runner: Runner
  readonly #server: Server
  readonly #relays = new Set<Relay>()
  #closing: Promise<void> | undefined

  constructor(dir: string, runner: Runner) {
    this.#dir = dir
    this.socket = join(dir, 'runner.sock')
    this.runnerPath = join(dir, 'inner.sock')
    this.#runner = runner
    this.#server = createServer((socket) => {
      const relay = new Relay(socket, this)
      this.#relays.add(relay)
      socket.on('close', () => this.#relays.delete(relay))
    })
  }

  async start(): Promise<void> {
    await this.#runner.listen(`unix:${this.runnerPath}`)
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.socket, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
  }

  fail(kind: FaultKind, options?: FaultOptions): Fault {
    return this.faults.arm(kind, options)
  }

  clearFaults(): void {
    this.faults.clear()
  }

  reset(): void {
    this.prepares.length = 0
    this.calls.length = 0
    this.faults.clear()
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
      for (const relay of this.#relays) relay.destroy()
      await closed
      await this.#runner.close()
      rmSync(this.#dir, { recursive: true, force: true })
    })()
    return this.#closing
  }
}

/**
 * Starts a runner with these plugins for a test: `createExtPlugin({ runner: { socket:
 * runner.socket } })` talks to it. Close it when the test ends.
 */
export async function fakeRunner(options: FakeRunnerOptions): Promise<FakeRunner> {
  const runner = createRunner(options)
  const dir = mkdtempSync(join(tmpdir(), 'apisix-ext-plugin-test-'))
  const fake = new FakeRunnerImpl(dir, runner)
  try {
    await fake.start()
  } catch (err) {
    await fake.close().catch(() => undefined)
    throw err instanceof RunnerStartError ? err : new RunnerStartError(`fakeRunner: cannot listen in ${dir}: ${(err as Error).message}`, undefined, err)
  }
  return fake
}
