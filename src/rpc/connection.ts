// One Unix-socket connection to the runner, carrying one call at a time (protocol.md §6).
//
// A call is: our request frame, any number of ExtraInfo question/answer rounds, then the
// runner's final frame. Everything that can go wrong on the way (the peer closing, an
// RPC_ERROR, a frame of the wrong type, a malformed payload, a timeout, an abort) rejects
// the call with an RpcError and, unless the connection is provably clean, destroys it so it
// is never handed out again.
import { connect as netConnect, type Socket } from 'node:net'
import { ErrorCode, ExtPluginError, RpcError } from '../errors.js'
import type { Logger } from '../logger.js'
import {
  FrameReader,
  Info,
  MessageType,
  decodeErrResponse,
  decodeExtraInfoRequest,
  errCodeText,
  messageTypeName,
  type DecodedExtraInfoRequest,
} from '../protocol/index.js'
import { answerQuestion, type ExtraInfoSource, type FrameParts } from './extra-info.js'

export interface CallOptions {
  /** Absolute time (performance.now() clock) after which the call fails with TIMEOUT. */
  readonly deadline: number
  readonly signal?: AbortSignal | undefined
  /** Where answers to ExtraInfo questions come from; without it a question is a protocol error. */
  readonly extra?: ExtraInfoSource | undefined
  readonly logger: Logger
  /** ExtraInfo questions answered at most in this call; one more fails it. */
  readonly maxRounds: number
}

/**
 * Bytes written to runner sockets that the kernel has not taken yet, summed over every
 * connection of one pool: a runner that stops reading makes them pile up in this process.
 */
export interface WriteQueue {
  queued: number
  readonly max: number
}

/**
 * open: may serve calls. broken: something made the byte stream's state uncertain (an
 * error, a stray byte); it is being destroyed and is never handed out. closed: the socket
 * is gone.
 */
type ConnectionState = 'open' | 'broken' | 'closed'

interface PendingCall {
  readonly rpc: number
  readonly extra: ExtraInfoSource | undefined
  readonly logger: Logger
  readonly deadline: number
  readonly resolve: (payload: Buffer) => void
  readonly reject: (err: ExtPluginError) => void
  readonly signal: AbortSignal | undefined
  readonly onAbort: (() => void) | undefined
  readonly maxRounds: number
  rounds: number
  /** Frames that arrived while an ExtraInfo answer was being prepared (kept in order). */
  queued: Array<[number, Buffer]> | undefined
  answering: boolean
}

const errnoText: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  ENOTSOCK: 'socket operation on non-socket',
  ECONNRESET: 'connection reset by peer',
  EPIPE: 'broken pipe',
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The runner closed its end: the connection is gone, not broken in some other way. */
function peerClosed(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ECONNRESET' || err.code === 'EPIPE'
}

/** A socket error as nginx words it, e.g. `no such file or directory`. */
export function socketErrorText(err: NodeJS.ErrnoException): string {
  return (err.code && errnoText[err.code]) ?? err.message
}

/** Connects to `path`, failing with CONNECT or CONNECT_TIMEOUT. */
export function connectUnix(path: string, timeout: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const address = `unix:${path}`
    const socket = netConnect({ path })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new RpcError(ErrorCode.CONNECT_TIMEOUT, 'connect', address, 'timeout'))
    }, timeout)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', onError)
      resolve(socket)
    })
    const onError = (err: NodeJS.ErrnoException): void => {
      clearTimeout(timer)
      reject(new RpcError(ErrorCode.CONNECT, 'connect', address, socketErrorText(err), { cause: err }))
    }
    socket.once('error', onError)
  })
}

export class RunnerConnection {
  readonly #socket: Socket
  readonly #reader: FrameReader
  readonly #writeQueue: WriteQueue
  #call: PendingCall | undefined
  #state: ConnectionState = 'open'
  /** Bytes of #writeQueue.queued that are this socket's (counted while a write is pending). */
  #accounted = 0
  #socketError: NodeJS.ErrnoException | undefined
  /** What the last write carried, to word a failed write as APISIX does. */
  #lastWrite = ''
  #lastWriteStep: 'send' | 'reply' = 'send'
  /** Bytes received during the current call; 0 means the runner never answered. */
  #received = 0
  /** Bytes written and ExtraInfo questions answered during the current call (diagnostics). */
  #sent = 0
  #rounds = 0
  /** Completed calls; a connection that served one before is a "reused" one. */
  calls = 0
  /** performance.now() when it went back to the pool. */
  idleSince = 0
  /**
   * One timer per connection, not touched per call: a pending timer that fires no later
   * than the new call's deadline serves it too. When it fires it checks the current call's
   * deadline and arms again for what is left; with no call it stops. (Arming or refreshing
   * a timer per call was a timer-list insertion per request.)
   */
  #timer: NodeJS.Timeout | undefined
  /** performance.now() at which the pending timer fires; -1 when none is pending. */
  #timerDue = -1
  /** Called once when the socket is gone, so the pool can forget it. */
  onClose: ((connection: RunnerConnection) => void) | undefined

  constructor(socket: Socket, writeQueue: WriteQueue = { queued: 0, max: Infinity }) {
    this.#socket = socket
    this.#writeQueue = writeQueue
    this.#reader = new FrameReader((type, payload) => this.#onFrame(type, payload))
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      if (this.#call === undefined) {
        // Nothing was asked (a late duplicate answer, or part of one): the runner is out of
        // step with us. Never parse it, never hand this stream to the next call.
        this.destroy()
        return
      }
      this.#received += chunk.length
      this.#reader.push(chunk)
    })
    socket.on('drain', () => this.#unaccount())
    socket.on('error', (err) => {
      this.#socketError ??= err
    })
    socket.on('close', () => this.#onClose())
  }

  get closed(): boolean {
    return this.#state === 'closed'
  }

  /** True when the connection can serve another call. */
  get reusable(): boolean {
    return this.#state === 'open' && this.#call === undefined && this.#reader.buffered === 0
  }

  /** Bytes the runner sent during the current (or last) call. */
  get received(): number {
    return this.#received
  }

  /** Bytes written to the runner during the current (or last) call, ExtraInfo answers included. */
  get sent(): number {
    return this.#sent
  }

  /** ExtraInfo questions of the current (or last) call. */
  get rounds(): number {
    return this.#rounds
  }

  /** Sends `frame` (a request of type `rpc`) and resolves with the payload of the final reply. */
  call(rpc: number, frame: Buffer, options: CallOptions): Promise<Buffer> {
    this.#sent = 0
    this.#rounds = 0
    if (this.#state !== 'open' || this.#call !== undefined) {
      return Promise.reject(new RpcError(ErrorCode.SOCKET_CLOSED, 'send', messageTypeName(rpc), 'closed'))
    }
    this.#received = 0
    return new Promise<Buffer>((resolve, reject) => {
      const signal = options.signal
      const onAbort = signal && ((): void => this.#fail(this.#error(ErrorCode.ABORTED, 'receive', 'aborted')))
      this.#call = {
        rpc,
        extra: options.extra,
        logger: options.logger,
        deadline: options.deadline,
        resolve,
        reject,
        signal,
        onAbort,
        queued: undefined,
        answering: false,
        maxRounds: options.maxRounds,
        rounds: 0,
      }
      if (this.#timerDue < 0 || this.#timerDue > options.deadline) this.#arm(options.deadline)
      if (signal?.aborted) return onAbort!()
      signal?.addEventListener('abort', onAbort!, { once: true })
      this.#write(frame, 'send', messageTypeName(rpc))
    })
  }

  /** Parked in the pool: an idle connection must not keep the process alive. */
  park(): void {
    this.#socket.unref()
  }

  unpark(): void {
    this.#socket.ref()
  }

  destroy(reason?: ExtPluginError): void {
    if (this.#state === 'open') this.#state = 'broken'
    this.#disarm()
    if (reason) this.#fail(reason)
    this.#socket.destroy()
  }

  /**
   * A timer that fires at `deadline` (performance.now() clock), or up to 1 ms before it:
   * never after, so that the next call, whose deadline is later, finds it good enough.
   */
  #arm(deadline: number): void {
    clearTimeout(this.#timer)
    const now = performance.now()
    const delay = Math.max(1, Math.floor(deadline - now))
    this.#timerDue = now + delay
    this.#timer = setTimeout(this.#onTimer, delay)
    this.#timer.unref() // a call in flight keeps the process alive through its socket
  }

  #disarm(): void {
    clearTimeout(this.#timer)
    this.#timerDue = -1
  }

  #onTimer = (): void => {
    this.#timerDue = -1
    const call = this.#call
    if (call === undefined) return
    if (call.deadline - performance.now() > 1) this.#arm(call.deadline)
    else this.#fail(this.#error(ErrorCode.TIMEOUT, 'receive', 'timeout'))
  }

  /**
   * Writes without a callback (none per call on the hot path): a failed write surfaces as
   * the socket's 'error' (syscall "write") and then 'close', reported against this write.
   */
  #write(frame: FrameParts, step: 'send' | 'reply', rpc: string): void {
    this.#lastWrite = step === 'send' ? rpc : 'RPC_EXTRA_INFO'
    this.#lastWriteStep = step
    const queue = this.#writeQueue
    const length = Buffer.isBuffer(frame) ? frame.length : frame.reduce((n, part) => n + part.length, 0)
    if (queue.queued + this.#socket.writableLength + length > queue.max) {
      // A runner that does not read would make us hold every frame we write to it.
      const reason = `write queue full: ${queue.queued + this.#socket.writableLength} bytes not taken by the runner, maxQueuedBytes ${queue.max}`
      this.#fail(new RpcError(ErrorCode.WRITE_QUEUE_FULL, step, this.#lastWrite, reason))
      return
    }
    this.#sent += length
    if (Buffer.isBuffer(frame) ? this.#socket.write(frame) : this.#writeParts(frame)) return // the usual case: the kernel took it all
    const pending = this.#socket.writableLength
    queue.queued += pending - this.#accounted
    this.#accounted = pending
  }

  /** The parts of one frame in one writev. */
  #writeParts(parts: readonly Buffer[]): boolean {
    const socket = this.#socket
    socket.cork()
    let taken = true
    for (const part of parts) taken = socket.write(part) && taken
    socket.uncork()
    return taken
  }

  /** The socket's pending bytes left this process ('drain' or close). */
  #unaccount(): void {
    this.#writeQueue.queued -= this.#accounted
    this.#accounted = 0
  }

  #error(code: (typeof ErrorCode)[keyof typeof ErrorCode], step: 'receive' | 'handle', reason: string): RpcError {
    return new RpcError(code, step, messageTypeName(this.#call?.rpc ?? -1), reason)
  }

  #onFrame(type: number, payload: Buffer): void {
    const call = this.#call
    if (call === undefined) {
      // A frame after the final reply, in the same chunk: the runner is out of step with us.
      this.destroy()
      return
    }
    if (call.answering) {
      ;(call.queued ??= []).push([type, payload])
      return
    }
    if (type === MessageType.RPC_EXTRA_INFO && call.extra !== undefined) {
      this.#rounds++
      if (++call.rounds > call.maxRounds) {
        const reason = `more than ${call.maxRounds} ExtraInfo rounds (maxExtraInfoRounds)`
        this.#fail(new RpcError(ErrorCode.EXTRA_INFO_ROUNDS, 'handle', 'RPC_EXTRA_INFO', reason))
        return
      }
      this.#onQuestion(call, payload)
    } else if (type === call.rpc) {
      this.#settle()
      this.calls++
      call.resolve(payload)
    } else if (type === MessageType.RPC_ERROR) {
      this.#onRunnerError(payload)
    } else {
      this.#state = 'broken'
      this.#fail(this.#error(ErrorCode.UNEXPECTED_TYPE, 'receive', `unexpected type ${type}`))
    }
  }

  #onRunnerError(payload: Buffer): void {
    // The runner gave up on this call; like APISIX we do not trust the stream afterwards.
    this.#state = 'broken'
    let code: number
    try {
      code = decodeErrResponse(payload).code
    } catch (err) {
      this.#fail(this.#badMessage(err, 'RPC_ERROR'))
      return
    }
    const errorCode = code === 2 ? ErrorCode.CONF_TOKEN_NOT_FOUND : ErrorCode.RUNNER_REPLIED_ERROR
    const call = this.#call!
    this.#fail(new RpcError(errorCode, 'receive', messageTypeName(call.rpc), errCodeText(code), { runnerCode: code }))
  }

  #onQuestion(call: PendingCall, payload: Buffer): void {
    let question: DecodedExtraInfoRequest
    try {
      question = decodeExtraInfoRequest(payload)
    } catch (err) {
      this.#fail(this.#badMessage(err, 'RPC_EXTRA_INFO'))
      return
    }
    if (question.kind !== Info.Var && question.kind !== Info.ReqBody && question.kind !== Info.RespBody) {
      this.#state = 'broken'
      this.#fail(new RpcError(ErrorCode.UNSUPPORTED_INFO, 'handle', 'RPC_EXTRA_INFO', `unsupported info type: ${question.kind}`))
      return
    }
    call.answering = true
    let answer: FrameParts | Promise<FrameParts>
    try {
      answer = answerQuestion(call.extra!, question, call.logger)
    } catch (err) {
      this.#failAnswer(err)
      return
    }
    if (!(answer instanceof Promise)) this.#sendAnswer(call, answer)
    else answer.then((frame) => this.#sendAnswer(call, frame), (err: unknown) => this.#failAnswer(err))
  }

  #sendAnswer(call: PendingCall, frame: FrameParts): void {
    if (this.#call !== call) return // the call ended (timeout, abort) while we were answering
    call.answering = false
    this.#write(frame, 'reply', 'RPC_EXTRA_INFO')
    const queued = call.queued
    if (queued === undefined) return
    call.queued = undefined
    for (const [type, payload] of queued) this.#onFrame(type, payload)
  }

  #failAnswer(err: unknown): void {
    // Encoding the answer failed (too large for a frame) or the answerer broke its contract.
    this.#state = 'broken'
    const code = err instanceof ExtPluginError ? err.code : ErrorCode.BAD_MESSAGE
    this.#fail(new RpcError(code, 'reply', 'RPC_EXTRA_INFO', errorText(err), { cause: err }))
  }

  #badMessage(err: unknown, rpc: string): RpcError {
    // Decoders throw BadMessage; anything else from them is still a payload we cannot read.
    this.#state = 'broken'
    return new RpcError(ErrorCode.BAD_MESSAGE, 'receive', rpc, `bad message: ${errorText(err)}`, { cause: err })
  }

  /** Ends the current call successfully: timers and listeners go, the connection stays. */
  #settle(): PendingCall | undefined {
    const call = this.#call
    if (call === undefined) return undefined
    this.#call = undefined
    if (call.onAbort) call.signal!.removeEventListener('abort', call.onAbort)
    return call
  }

  /** Ends the current call with `err`; the connection is destroyed. */
  #fail(err: ExtPluginError): void {
    const call = this.#settle()
    if (this.#state === 'open') this.#state = 'broken'
    this.#socket.destroy()
    // destroy() drops what the socket still held: it no longer counts against maxQueuedBytes
    this.#unaccount()
    call?.reject(err)
  }

  #onClose(): void {
    this.#state = 'closed'
    this.#unaccount()
    this.#disarm()
    if (this.#call !== undefined) {
      const err = this.#socketError
      const reset = err === undefined || peerClosed(err)
      const code = reset ? ErrorCode.SOCKET_CLOSED : ErrorCode.SOCKET
      if (err?.syscall === 'write') {
        this.#fail(new RpcError(code, this.#lastWriteStep, this.#lastWrite, socketErrorText(err), { cause: err }))
      } else {
        const detail = this.#reader.incomplete()
        const reason = reset ? (detail ? `closed (${detail})` : 'closed') : socketErrorText(err!)
        this.#fail(this.#error(code, 'receive', reason))
      }
    }
    this.#reader.reset()
    this.onClose?.(this)
  }
}
