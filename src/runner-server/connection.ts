// One gateway connection on the runner side: read frames until EOF, serve them one at a
// time (protocol.md §6: one call at a time per connection, many calls in a row), and
// answer every request: its reply, or RPC_ERROR with BAD_REQUEST (unknown type, malformed
// payload), CONF_TOKEN_NOT_FOUND (unknown or expired token) or SERVICE_UNAVAILABLE (a
// plugin threw, or the reply cannot be encoded). ExtraInfo questions of a call in
// progress take the next frame as their answer.
//
// A gateway that goes away mid-call never blocks the connection: the call is abandoned at
// once (its AbortSignal fires; questions it asks fail) and the connection is released,
// whatever the plugin is still doing.
//
// A gateway (or anything else that can connect) cannot hold the runner's memory or a
// connection for free: a connection that sends nothing for `idleTimeout` while the runner
// waits for it is closed; a frame header announcing more than `maxFrameSize` bytes closes
// the connection before a byte of that payload is buffered; a frame that has not fully
// arrived `frameTimeout` after its first byte is dropped with its connection.
import type { Socket } from 'node:net'
import type { Logger } from '../logger.js'
import {
  BadMessage,
  ErrCode,
  FRAME_HEADER_LENGTH,
  FrameReader,
  MAX_PAYLOAD_LENGTH,
  MessageType,
  decodeHTTPReqCallRequest,
  decodeHTTPRespCallRequest,
  decodePrepareConfRequest,
  encodeErrResponse,
  encodeHTTPReqCallResponse,
  encodeHTTPRespCallResponse,
  encodePrepareConfResponse,
  messageTypeName,
} from '../protocol/index.js'
import { CallClosedError, GatewayCall, type ExtraInfoChannel } from './call.js'
import { describe, type ConfStore, type PreparedConf } from './confs.js'
import { RunnerRequestImpl, StopResponseImpl } from './request.js'
import { RunnerResponseImpl } from './response.js'
import type { RunnerPlugin } from './types.js'

/** What connections share: the runner's state. */
export interface ConnectionHost {
  readonly logger: Logger
  readonly confs: ConfStore
  readonly plugins: ReadonlyMap<string, RunnerPlugin<unknown>>
  /** The runner is closing: end connections after their current call. */
  readonly closing: boolean
  /** Counts a served frame. */
  served(): void
  readonly limits: ConnectionLimits
}

/** What one connection may cost (RunnerOptions documents each). */
export interface ConnectionLimits {
  /** ms without a byte while the runner waits for one. */
  readonly idleTimeout: number
  /** Largest payload a frame header may announce, in bytes. */
  readonly maxFrameSize: number
  /** ms from a frame's first byte to its last. */
  readonly frameTimeout: number
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  // Longer than the gateway keeps an idle connection (180 s, protocol.md §6), so the
  // runner never closes one the gateway may be about to reuse.
  idleTimeout: 240_000,
  maxFrameSize: MAX_PAYLOAD_LENGTH,
  frameTimeout: 10_000,
}

/**
 * Follows frame boundaries in the byte stream as it arrives, ahead of FrameReader, which
 * only reports whole frames: it sees a header the moment its 4 bytes are in (to refuse an
 * oversized frame before buffering it) and knows whether a frame is half-received.
 */
class FrameGuard {
  readonly #header = Buffer.alloc(FRAME_HEADER_LENGTH)
  #headerBytes = 0
  /** Payload bytes of the current frame still to come. */
  #remaining = 0

  /** True while a frame has started and not fully arrived. */
  get partial(): boolean {
    return this.#headerBytes > 0 || this.#remaining > 0
  }

  /** Scans a chunk; returns the first announced length over `max`, else undefined. */
  scan(chunk: Buffer, max: number): number | undefined {
    let at = 0
    while (at < chunk.length) {
      if (this.#remaining > 0) {
        const skip = Math.min(this.#remaining, chunk.length - at)
        this.#remaining -= skip
        at += skip
        continue
      }
      const take = Math.min(FRAME_HEADER_LENGTH - this.#headerBytes, chunk.length - at)
      chunk.copy(this.#header, this.#headerBytes, at, at + take)
      this.#headerBytes += take
      at += take
      if (this.#headerBytes < FRAME_HEADER_LENGTH) return undefined
      this.#headerBytes = 0
      const length = this.#header.readUInt32BE(0) & MAX_PAYLOAD_LENGTH
      if (length > max) return length
      this.#remaining = length
    }
    return undefined
  }
}

interface Frame {
  readonly type: number
  readonly payload: Buffer
}

/** The token in a call is not (or no longer) known. */
class TokenNotFound extends Error {
  override name = 'TokenNotFound'
}

/** A plugin's filter threw; names the plugin for the log. */
class PluginFailed extends Error {
  override name = 'PluginFailed'
}

const CLOSED = Symbol('closed')

/** Above this many unread frames the socket is paused (a gateway that pipelines). */
const QUEUE_HIGH = 16

export class RunnerConnection implements ExtraInfoChannel {
  readonly #socket: Socket
  readonly #host: ConnectionHost
  readonly #logger: Logger
  readonly #reader: FrameReader
  readonly #queue: Frame[] = []
  #waiter: ((frame: Frame | null) => void) | undefined
  /** No more frames will come (the gateway ended its side, or the socket closed). */
  #eof = false
  #closed = false
  #busy = false
  #paused = false
  #call: GatewayCall | undefined
  readonly #limits: ConnectionLimits
  readonly #guard = new FrameGuard()
  /** Runs while the runner waits for bytes that do not come (idleTimeout). */
  #idleTimer: NodeJS.Timeout | undefined
  /** Runs while a frame is half-received and the socket is not paused by us (frameTimeout). */
  #frameTimer: NodeJS.Timeout | undefined
  /** Settles the wait for the current call with CLOSED when the socket closes. */
  #abandon: (() => void) | undefined
  readonly #done: Promise<void>
  #resolveDone!: () => void

  constructor(socket: Socket, host: ConnectionHost) {
    this.#socket = socket
    this.#host = host
    this.#logger = host.logger
    this.#limits = host.limits
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve))
    this.#reader = new FrameReader((type, payload) => this.#onFrame({ type, payload }))
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('end', () => this.#onEnd())
    socket.on('error', (err) => this.#logger.debug({ err }, `connection error: ${err.message}`))
    socket.on('close', () => this.#onClose())
  }

  /** Resolves when the socket has closed and the connection let go of everything. */
  get done(): Promise<void> {
    return this.#done
  }

  /** Serves frames until the gateway ends the connection or the runner closes. */
  async run(): Promise<void> {
    for (;;) {
      const frame = await this.#next()
      if (frame === null) break
      this.#busy = true
      const reply = await this.#serve(frame)
      this.#busy = false
      this.#host.served()
      if (reply !== undefined && !this.#closed) await this.#write(reply)
      if (this.#host.closing || this.#closed) break
    }
    this.#end()
  }

  /** The runner is closing: end now if idle, else after the current call (run() checks). */
  shutdown(): void {
    if (!this.#busy) this.#end()
  }

  /** Drops the connection now, in-flight call or not. */
  destroy(): void {
    this.#socket.destroy()
  }

  // ---- frames in ----------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    this.#stopIdleTimer()
    const oversized = this.#guard.scan(chunk, this.#limits.maxFrameSize)
    if (oversized !== undefined) {
      this.#logger.warn({ size: oversized }, `a frame header announces ${oversized} bytes, over maxFrameSize ${this.#limits.maxFrameSize}: closing the connection`)
      this.#drop()
      return
    }
    this.#reader.push(chunk)
    this.#watchFrame()
  }

  /** Starts the frame timer when a frame begins, stops it when none is half-received. */
  #watchFrame(): void {
    if (!this.#guard.partial || this.#paused) {
      clearTimeout(this.#frameTimer)
      this.#frameTimer = undefined
      return
    }
    this.#frameTimer ??= setTimeout(() => {
      this.#logger.warn({}, `a frame did not arrive within frameTimeout ${this.#limits.frameTimeout} ms (${this.#reader.incomplete() ?? 'partial'}): closing the connection`)
      this.#drop()
    }, this.#limits.frameTimeout)
  }

  #startIdleTimer(): void {
    // Bytes already in (a half-received frame) are the frame timer's concern.
    if (this.#closed || this.#guard.partial) return
    this.#idleTimer ??= setTimeout(() => {
      this.#logger.info({}, `connection idle for ${this.#limits.idleTimeout} ms: closing it`)
      this.#drop()
    }, this.#limits.idleTimeout)
  }

  #stopIdleTimer(): void {
    clearTimeout(this.#idleTimer)
    this.#idleTimer = undefined
  }

  /** Closes now and frees what the reader holds; an in-flight call is abandoned. */
  #drop(): void {
    this.#reader.reset()
    this.#socket.destroy()
  }

  #onFrame(frame: Frame): void {
    const waiter = this.#waiter
    if (waiter !== undefined) {
      this.#waiter = undefined
      waiter(frame)
      return
    }
    this.#queue.push(frame)
    if (this.#queue.length >= QUEUE_HIGH && !this.#paused) {
      this.#paused = true
      this.#socket.pause()
      this.#watchFrame()
    }
  }

  #next(): Promise<Frame | null> {
    const frame = this.#queue.shift()
    if (frame !== undefined) {
      if (this.#paused && this.#queue.length < QUEUE_HIGH / 2) {
        this.#paused = false
        this.#socket.resume()
        this.#watchFrame()
      }
      return Promise.resolve(frame)
    }
    if (this.#eof) return Promise.resolve(null)
    this.#startIdleTimer()
    return new Promise((resolve) => (this.#waiter = resolve))
  }

  #onEnd(): void {
    if (this.#eof) return
    const partial = this.#reader.incomplete()
    if (partial !== undefined) this.#logger.warn({}, `the gateway closed the connection mid-frame (${partial})`)
    this.#eof = true
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.(null)
  }

  #onClose(): void {
    this.#closed = true
    this.#stopIdleTimer()
    clearTimeout(this.#frameTimer)
    this.#onEnd()
    this.#reader.reset()
    this.#queue.length = 0
    if (this.#call !== undefined) {
      this.#logger.warn({ call: this.#call.id }, `call ${this.#call.id}: the gateway closed the connection before the reply`)
      this.#call.abort('the gateway closed the connection')
    }
    this.#abandon?.()
    this.#resolveDone()
  }

  // ---- frames out ---------------------------------------------------------------------

  async #write(frame: Buffer): Promise<void> {
    const socket = this.#socket
    if (socket.write(frame)) return
    // Wait until the gateway reads, so one that does not cannot make us buffer without end.
    await new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done)
        socket.off('close', done)
        resolve()
      }
      socket.on('drain', done)
      socket.on('close', done)
    })
  }

  #end(): void {
    if (this.#closed) return
    // Ends our side once the reply is flushed, then closes.
    this.#socket.destroySoon()
  }

  /** One ExtraInfo round trip for the call in progress (call.ts serialises them). */
  async ask(frame: Buffer): Promise<Buffer> {
    if (this.#closed || !this.#socket.writable) throw new CallClosedError('the connection is closed')
    this.#socket.write(frame)
    const answer = await this.#next()
    if (answer === null) throw new CallClosedError('the connection is closed')
    if (answer.type !== MessageType.RPC_EXTRA_INFO) {
      throw new BadMessage(`expected RPC_EXTRA_INFO in answer to an ExtraInfo request, got ${messageTypeName(answer.type)}`)
    }
    return answer.payload
  }

  // ---- serving ------------------------------------------------------------------------

  /** The reply frame for one request frame; undefined when there is no one to reply to. */
  async #serve({ type, payload }: Frame): Promise<Buffer | undefined> {
    this.#logger.debug({ type }, `receive rpc type: ${type} data length: ${payload.length}`)
    try {
      switch (type) {
        case MessageType.RPC_PREPARE_CONF:
          return await this.#prepareConf(payload)
        case MessageType.RPC_HTTP_REQ_CALL:
          return await this.#httpReqCall(payload)
        case MessageType.RPC_HTTP_RESP_CALL:
          return await this.#httpRespCall(payload)
        default:
          this.#logger.warn({ type }, `unknown rpc type: ${type}`)
          return encodeErrResponse({ code: ErrCode.BAD_REQUEST })
      }
    } catch (err) {
      return this.#errorReply(type, err)
    }
  }

  #errorReply(type: number, err: unknown): Buffer | undefined {
    const rpc = messageTypeName(type)
    const cause = err instanceof PluginFailed ? err.cause : err
    if (this.#closed) {
      this.#logger.debug({ rpc }, `${rpc}: ${describe(err)} (the connection is closed, no reply)`)
      return undefined
    }
    if (cause instanceof CallClosedError) {
      this.#logger.warn({ rpc }, `${rpc}: ${describe(err)}`)
      return encodeErrResponse({ code: ErrCode.SERVICE_UNAVAILABLE })
    }
    if (err instanceof TokenNotFound) {
      this.#logger.warn({ rpc }, `${rpc}: ${err.message}`)
      return encodeErrResponse({ code: ErrCode.CONF_TOKEN_NOT_FOUND })
    }
    if (cause instanceof BadMessage) {
      this.#logger.warn({ rpc }, `${rpc}: malformed message: ${cause.message}`)
      return encodeErrResponse({ code: ErrCode.BAD_REQUEST })
    }
    const stack = cause instanceof Error && cause.stack ? `\n${cause.stack}` : ''
    this.#logger.error({ rpc }, `${rpc}: ${describe(err)}${stack}`)
    return encodeErrResponse({ code: ErrCode.SERVICE_UNAVAILABLE })
  }

  async #prepareConf(payload: Buffer): Promise<Buffer> {
    const request = decodePrepareConfRequest(payload)
    const token = await this.#host.confs.prepare(request, this.#host.plugins, this.#logger)
    return encodePrepareConfResponse({ confToken: token })
  }

  #conf(token: number): PreparedConf {
    const prepared = this.#host.confs.get(token)
    if (prepared === undefined) throw new TokenNotFound(`conf token not found: ${token}`)
    return prepared
  }

  async #httpReqCall(payload: Buffer): Promise<Buffer | undefined> {
    const decoded = decodeHTTPReqCallRequest(payload)
    const prepared = this.#conf(decoded.confToken)
    const call = new GatewayCall(decoded.id, this)
    const request = new RunnerRequestImpl(call, decoded, this.#logger)
    const stop = new StopResponseImpl()
    const outcome = await this.#during(call, runRequestPhase(prepared, request, stop))
    if (outcome === CLOSED) return undefined
    const action = stop.stopped ? stop.action() : request.rewrite()
    return encodeHTTPReqCallResponse({ id: decoded.id, action })
  }

  async #httpRespCall(payload: Buffer): Promise<Buffer | undefined> {
    const decoded = decodeHTTPRespCallRequest(payload)
    const prepared = this.#conf(decoded.confToken)
    const call = new GatewayCall(decoded.id, this)
    const response = new RunnerResponseImpl(call, decoded)
    const outcome = await this.#during(call, runResponsePhase(prepared, response))
    if (outcome === CLOSED) return undefined
    return encodeHTTPRespCallResponse(response.reply())
  }

  /**
   * Runs a phase as the connection's current call: resolves when it is done and no
   * question is in flight, or with CLOSED as soon as the socket closes.
   */
  #during(call: GatewayCall, phase: Promise<void>): Promise<void | typeof CLOSED> {
    if (this.#closed) return Promise.resolve(CLOSED)
    this.#call = call
    return new Promise<void | typeof CLOSED>((resolve, reject) => {
      const finish = (): void => {
        this.#call = undefined
        this.#abandon = undefined
        call.end()
      }
      this.#abandon = () => {
        finish()
        resolve(CLOSED)
      }
      phase
        .then(() => call.settled())
        .then(
          () => {
            finish()
            resolve()
          },
          (err: unknown) => {
            finish()
            reject(err)
          },
        )
    })
  }
}

async function runRequestPhase(prepared: PreparedConf, request: RunnerRequestImpl, stop: StopResponseImpl): Promise<void> {
  for (const { plugin, conf } of prepared) {
    if (plugin.requestFilter === undefined) continue
    try {
      await plugin.requestFilter(conf, request, stop)
    } catch (err) {
      throw new PluginFailed(`plugin ${plugin.name} failed in the request phase: ${describe(err)}`, { cause: err })
    }
    if (stop.stopped) return
  }
}

async function runResponsePhase(prepared: PreparedConf, response: RunnerResponseImpl): Promise<void> {
  for (const { plugin, conf } of prepared) {
    if (plugin.responseFilter === undefined) continue
    try {
      await plugin.responseFilter(conf, response)
    } catch (err) {
      throw new PluginFailed(`plugin ${plugin.name} failed in the response phase: ${describe(err)}`, { cause: err })
    }
  }
}
