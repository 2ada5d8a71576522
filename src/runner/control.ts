// The owner of a shared runner tells the processes attached to it about the runner over a
// Unix socket beside the runner's (`control.sock`): one JSON line per change (spawned,
// listening, exited, closing), and the current status on connect. The connection itself
// is the owner's liveness signal: the kernel closes it however the owner dies, so attached
// processes notice at once, without polling, and elect a new owner.
import { createServer, connect, type Server, type Socket } from 'node:net'
import { rmSync } from 'node:fs'
import type { RunnerExitInfo, RunnerState } from './health.js'

/** What the owner says about its runner. */
export interface SharedStatus {
  /** The owner's pid and owner generation (owner-lock.ts). */
  readonly owner: number
  readonly generation: number
  readonly state: RunnerState
  readonly pid: number | undefined
  /** Runners this owner started (a new one means new conf tokens). */
  readonly spawns: number
  /** Restarts of the shared runner, over every owner it had. */
  readonly restarts: number
  readonly lastExit: RunnerExitInfo | undefined
  /** The APISIX_CONF_EXPIRE_TIME the runner was given. */
  readonly confExpireTime: number
}

/** A status line longer than this is not a status: the connection is dropped. */
const MAX_LINE = 256 * 1024

export class ControlServer {
  readonly #server: Server
  readonly #clients = new Set<Socket>()
  readonly #status: () => SharedStatus

  constructor(path: string, status: () => SharedStatus, onError: (err: Error) => void, onListening?: () => void) {
    this.#status = status
    // a dead owner's socket file; the directory is private and we own the runner now
    rmSync(path, { force: true })
    this.#server = createServer((socket) => {
      socket.unref()
      socket.on('error', () => {})
      socket.on('close', () => this.#clients.delete(socket))
      // attached processes only listen; anything they send is ignored
      socket.resume()
      this.#clients.add(socket)
      socket.write(`${JSON.stringify(this.#status())}\n`)
    })
    this.#server.on('error', onError)
    // exclusive: in a cluster worker, a shared listen would be made by the primary, which
    // keeps (and unlinks, on its own schedule) a handle per path for all its workers
    this.#server.listen({ path, exclusive: true }, () => onListening?.())
    // the application's own server keeps Node alive, not this
    this.#server.unref()
  }

  broadcast(): void {
    if (this.#clients.size === 0) return
    const line = `${JSON.stringify(this.#status())}\n`
    for (const socket of this.#clients) socket.write(line)
  }

  close(): void {
    this.#server.close()
    for (const socket of this.#clients) socket.destroy()
    this.#clients.clear()
  }
}

export interface ControlClientEvents {
  onStatus(status: SharedStatus): void
  /** Connected, then the owner went away (closed, or died). */
  onLost(): void
  /** Could not connect (the owner is not listening yet, or is gone). */
  onRefused(err: Error): void
}

export class ControlClient {
  readonly #socket: Socket
  #connected = false
  #ended = false

  /**
   * `firstStatus`: milliseconds the owner has to send its status after the connect. A
   * connect can complete against a listener whose process is exiting (the connection
   * waits in its backlog) and then hear nothing: that counts as refused.
   */
  constructor(path: string, events: ControlClientEvents, firstStatus = 1000) {
    const socket = connect(path)
    this.#socket = socket
    socket.unref()
    socket.setEncoding('utf8')
    let partial = ''
    let heard = false
    const silence = setTimeout(() => {
      if (heard || this.#ended) return
      this.#ended = true
      socket.destroy()
      events.onRefused(new Error(`the owner sent no status within ${firstStatus} ms`))
    }, firstStatus)
    silence.unref()
    socket.on('connect', () => (this.#connected = true))
    socket.on('data', (chunk: string) => {
      heard = true
      const lines = (partial + chunk).split('\n')
      partial = lines.pop()!
      if (partial.length > MAX_LINE) socket.destroy()
      for (const line of lines) {
        let status: SharedStatus
        try {
          status = JSON.parse(line) as SharedStatus
        } catch {
          continue
        }
        if (!this.#ended) events.onStatus(status)
      }
    })
    socket.on('error', (err) => {
      if (!this.#connected && !this.#ended) {
        this.#ended = true
        clearTimeout(silence)
        events.onRefused(err)
      }
    })
    socket.on('close', () => {
      clearTimeout(silence)
      if (!this.#connected && !this.#ended) {
        // closed before connecting, without an error
        this.#ended = true
        events.onRefused(new Error('the control connection closed before it opened'))
      } else if (this.#connected && !this.#ended) {
        this.#ended = true
        events.onLost()
      }
    })
  }

  /** Disconnects without telling anyone. */
  close(): void {
    this.#ended = true
    this.#socket.destroy()
  }
}
