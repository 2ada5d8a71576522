// A scriptable runner for the faults real runners will not produce on demand: closing
// mid-call, garbage or oversized frames, stalls, wrong frame types, `conf token not found`.
// Each connection reads frames in order; a handler per message type decides what to send.
// By default it behaves like a well-mannered runner: tokens 1, 2, 3…, no action, no change.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as P from '../../src/protocol/index.js'

export interface Frame {
  readonly type: number
  readonly payload: Buffer
}

/** What a handler can do with the connection a message arrived on. */
export class MockCall {
  readonly type: number
  readonly payload: Buffer
  /** Which connection (1, 2, …, in order of arrival) the frame came on. */
  readonly connection: number
  readonly #conn: MockConnection

  constructor(conn: MockConnection, frame: Frame) {
    this.#conn = conn
    this.type = frame.type
    this.payload = frame.payload
    this.connection = conn.id
  }

  /** Sends bytes as they are (a whole frame, part of one, or garbage). */
  raw(bytes: Uint8Array): void {
    this.#conn.socket.write(bytes)
  }

  /** Sends a frame with this type and payload. */
  send(type: number, payload: Uint8Array): void {
    this.raw(P.encodeFrame(type, payload))
  }

  /** Asks an ExtraInfo question and resolves with the gateway's `result` (undefined = absent). */
  async ask(question: P.ExtraInfoRequest): Promise<Buffer | undefined> {
    this.raw(P.encodeExtraInfoRequest(question))
    const answer = await this.#conn.next()
    if (answer === undefined) throw new Error('connection closed while waiting for an ExtraInfo answer')
    if (answer.type !== P.MessageType.RPC_EXTRA_INFO) throw new Error(`expected an ExtraInfo answer, got type ${answer.type}`)
    return P.decodeExtraInfoResponse(answer.payload).result
  }

  /** Stops reading this connection, like a runner that hangs: the gateway's writes pile up. */
  pause(): void {
    this.#conn.socket.pause()
  }

  error(code: number): void {
    this.raw(P.encodeErrResponse({ code }))
  }

  /** Ends the connection like a runner that closes it: whatever arrives afterwards is dropped. */
  close(): void {
    this.#conn.closing = true
    this.#conn.socket.end()
  }

  destroy(): void {
    this.#conn.socket.destroy()
  }
}

type Handler = (call: MockCall, mock: MockRunner) => void | Promise<void>

export interface MockHandlers {
  prepareConf?: Handler
  httpReqCall?: Handler
  httpRespCall?: Handler
  /** Any other type (including stray ExtraInfo frames). */
  other?: Handler
  /** Called for each new connection before any frame; may close it at once. */
  connection?: (socket: Socket) => void
}

class MockConnection {
  readonly id: number
  readonly socket: Socket
  readonly #frames: Frame[] = []
  #waiting: ((frame: Frame | undefined) => void) | undefined
  #ended = false
  closing = false

  constructor(socket: Socket, id: number) {
    this.id = id
    this.socket = socket
    const reader = new P.FrameReader((type, payload) => {
      const frame = { type, payload: Buffer.from(payload) }
      if (this.#waiting) {
        const waiting = this.#waiting
        this.#waiting = undefined
        waiting(frame)
      } else this.#frames.push(frame)
    })
    socket.on('data', (chunk: Buffer) => reader.push(chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#ended = true
      this.#waiting?.(undefined)
      this.#waiting = undefined
    })
  }

  next(): Promise<Frame | undefined> {
    if (this.closing) return Promise.resolve(undefined)
    const frame = this.#frames.shift()
    if (frame !== undefined) return Promise.resolve(frame)
    if (this.#ended) return Promise.resolve(undefined)
    return new Promise((resolve) => (this.#waiting = resolve))
  }
}

export class MockRunner {
  readonly path: string
  readonly #dir: string
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  handlers: MockHandlers
  /** Every frame received, in order, across connections. */
  readonly received: Frame[] = []
  connections = 0
  #nextToken = 1

  private constructor(handlers: MockHandlers) {
    this.handlers = handlers
    this.#dir = mkdtempSync(join(tmpdir(), 'mock-runner-'))
    this.path = join(this.#dir, 'runner.sock')
    this.#server = createServer((socket) => this.#serve(socket))
  }

  static async start(handlers: MockHandlers = {}): Promise<MockRunner> {
    const mock = new MockRunner(handlers)
    await new Promise<void>((resolve, reject) => {
      mock.#server.once('error', reject)
      mock.#server.listen(mock.path, resolve)
    })
    return mock
  }

  /** Connections open right now, from the runner's side. */
  get openConnections(): number {
    return this.#sockets.size
  }

  countOf(type: number): number {
    return this.received.filter((f) => f.type === type).length
  }

  /** The default PrepareConf answer: a fresh token. */
  grantToken(call: MockCall): number {
    const token = this.#nextToken++
    call.raw(P.encodePrepareConfResponse({ confToken: token }))
    return token
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
    rmSync(this.#dir, { recursive: true, force: true })
  }

  async #serve(socket: Socket): Promise<void> {
    this.connections++
    this.#sockets.add(socket)
    socket.on('close', () => this.#sockets.delete(socket))
    this.handlers.connection?.(socket)
    const conn = new MockConnection(socket, this.connections)
    for (;;) {
      const frame = await conn.next()
      if (frame === undefined) return
      this.received.push(frame)
      const call = new MockCall(conn, frame)
      try {
        await this.#dispatch(call)
      } catch {
        socket.destroy()
        return
      }
    }
  }

  async #dispatch(call: MockCall): Promise<void> {
    const h = this.handlers
    switch (call.type) {
      case P.MessageType.RPC_PREPARE_CONF:
        return h.prepareConf ? h.prepareConf(call, this) : void this.grantToken(call)
      case P.MessageType.RPC_HTTP_REQ_CALL:
        if (h.httpReqCall) return h.httpReqCall(call, this)
        return call.raw(P.encodeHTTPReqCallResponse({ id: P.decodeHTTPReqCallRequest(call.payload).id, action: undefined }))
      case P.MessageType.RPC_HTTP_RESP_CALL:
        if (h.httpRespCall) return h.httpRespCall(call, this)
        return call.raw(P.encodeHTTPRespCallResponse({ id: 0, status: 0, headers: [] }))
      default:
        return h.other ? h.other(call, this) : call.error(P.ErrCode.BAD_REQUEST)
    }
  }
}
