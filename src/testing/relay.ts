// One gateway connection of the fake runner: every frame goes on to the real runner (the
// TypeScript one of apisix-ext-plugin/runner, on a private socket) and every answer comes
// back, decoded on the way into records; an armed fault replaces the runner's answer.
import { connect, type Socket } from 'node:net'
import {
  ErrCode,
  FrameReader,
  MessageType,
  decodeErrResponse,
  decodeExtraInfoRequest,
  decodeHTTPReqCallRequest,
  decodeHTTPReqCallResponse,
  decodeHTTPRespCallRequest,
  decodeHTTPRespCallResponse,
  decodePrepareConfRequest,
  decodePrepareConfResponse,
  encodeErrResponse,
  encodeFrame,
} from '../protocol/index.js'
import type { FaultKind, FaultQueue, FrameTarget } from './faults.js'
import {
  prepareRecord,
  question,
  requestCallRecord,
  requestReply,
  responseCallRecord,
  responseReply,
  rpcError,
  type CallRecord,
  type ConfEntry,
  type PrepareRecord,
  type Question,
  type Writable,
} from './records.js'

/** What relays share: the records, the faults, the conf behind each token. */
export interface RelayHost {
  readonly prepares: PrepareRecord[]
  readonly calls: CallRecord[]
  readonly faults: FaultQueue
  readonly confs: Map<number, readonly ConfEntry[]>
  readonly runnerPath: string
}

type Pending =
  | { readonly type: 'prepare'; readonly record: Writable<PrepareRecord> }
  | { readonly type: 'call'; readonly record: Writable<CallRecord> & { questions: Question[] } }

/** `relaying` until a fault stalls it (frames from the gateway are then ignored) or it closes. */
type RelayState = 'relaying' | 'stalled' | 'closed'

/** Not a FlatBuffer: the root offset points far outside the payload. */
const GARBAGE = Buffer.from([0xff, 0xff, 0xff, 0x7f])

export class Relay {
  readonly #gateway: Socket
  readonly #runner: Socket
  readonly #host: RelayHost
  #state: RelayState = 'relaying'
  #pending: Pending | undefined

  constructor(gateway: Socket, host: RelayHost) {
    this.#gateway = gateway
    this.#host = host
    this.#runner = connect(host.runnerPath)
    const fromGateway = new FrameReader((type, payload) => this.#fromGateway(type, payload))
    const fromRunner = new FrameReader((type, payload) => this.#fromRunner(type, payload))
    gateway.on('data', (chunk: Buffer) => fromGateway.push(chunk))
    this.#runner.on('data', (chunk: Buffer) => fromRunner.push(chunk))
    for (const socket of [gateway, this.#runner]) {
      socket.on('error', () => this.destroy())
      socket.on('close', () => this.destroy())
    }
  }

  destroy(): void {
    this.#state = 'closed'
    this.#gateway.destroy()
    this.#runner.destroy()
  }

  #fromGateway(type: number, payload: Buffer): void {
    if (this.#state !== 'relaying') return
    const target = this.#record(type, payload)
    const fault = target === undefined ? undefined : this.#host.faults.take(target)
    if (fault === undefined) {
      this.#runner.write(encodeFrame(type, payload))
      return
    }
    if (this.#pending !== undefined) this.#pending.record.fault = fault
    this.#pending = undefined
    this.#inject(fault, type)
  }

  /** Records a request frame; returns what kind of frame a fault may replace the answer to. */
  #record(type: number, payload: Buffer): FrameTarget | undefined {
    try {
      if (type === MessageType.RPC_PREPARE_CONF) {
        const record = prepareRecord(decodePrepareConfRequest(payload))
        this.#host.prepares.push(record)
        this.#pending = { type: 'prepare', record }
        return 'prepare'
      }
      if (type === MessageType.RPC_HTTP_REQ_CALL) {
        const request = decodeHTTPReqCallRequest(payload)
        return this.#call(requestCallRecord(request, this.#host.confs.get(request.confToken)))
      }
      if (type === MessageType.RPC_HTTP_RESP_CALL) {
        const request = decodeHTTPRespCallRequest(payload)
        return this.#call(responseCallRecord(request, this.#host.confs.get(request.confToken)))
      }
    } catch {
      // Malformed: the runner answers it BAD_REQUEST; nothing to record.
    }
    return undefined
  }

  #call(record: Writable<CallRecord> & { questions: Question[] }): FrameTarget {
    this.#host.calls.push(record)
    this.#pending = { type: 'call', record }
    return record.type
  }

  #inject(fault: FaultKind, type: number): void {
    switch (fault) {
      case 'close':
        this.destroy()
        return
      case 'stall':
        this.#state = 'stalled'
        return
      case 'garbage':
        this.#gateway.write(encodeFrame(type, GARBAGE))
        return
      case 'rpc-error':
        this.#gateway.write(encodeErrResponse({ code: ErrCode.SERVICE_UNAVAILABLE }))
        return
      case 'token-not-found':
        this.#gateway.write(encodeErrResponse({ code: ErrCode.CONF_TOKEN_NOT_FOUND }))
        return
    }
  }

  #fromRunner(type: number, payload: Buffer): void {
    if (this.#state === 'closed') return
    this.#decodeAnswer(type, payload)
    if (this.#state === 'relaying') this.#gateway.write(encodeFrame(type, payload))
  }

  #decodeAnswer(type: number, payload: Buffer): void {
    const pending = this.#pending
    if (pending === undefined) return
    try {
      if (type === MessageType.RPC_EXTRA_INFO && pending.type === 'call') {
        const q = decodeExtraInfoRequest(payload)
        pending.record.questions.push(question(q.kind, q.name))
        return
      }
      this.#pending = undefined
      if (type === MessageType.RPC_ERROR) {
        pending.record.error = rpcError(decodeErrResponse(payload).code)
      } else if (pending.type === 'prepare' && type === MessageType.RPC_PREPARE_CONF) {
        const token = decodePrepareConfResponse(payload).confToken
        pending.record.token = token
        this.#host.confs.set(token, pending.record.conf)
      } else if (pending.type === 'call' && pending.record.type === 'request' && type === MessageType.RPC_HTTP_REQ_CALL) {
        pending.record.reply = requestReply(decodeHTTPReqCallResponse(payload))
      } else if (pending.type === 'call' && pending.record.type === 'response' && type === MessageType.RPC_HTTP_RESP_CALL) {
        pending.record.reply = responseReply(decodeHTTPRespCallResponse(payload))
      }
    } catch {
      // The gateway will judge a malformed answer; the record stays without it.
    }
  }
}
