// One HTTPReqCall or HTTPRespCall in progress: the ExtraInfo questions its plugins ask the
// gateway (protocol.md §4.3), one at a time on the call's connection, with answers cached
// for the call, and the AbortSignal that tells plugins the gateway went away.
import {
  Info,
  decodeExtraInfoResponse,
  encodeExtraInfoRequest,
  type ExtraInfoRequest,
} from '../protocol/index.js'
import type { BodyInput } from './types.js'

/** What a call needs from its connection: one ExtraInfo round trip. */
export interface ExtraInfoChannel {
  /** Sends an ExtraInfo.Req frame; resolves with the payload of the gateway's answer. */
  ask(frame: Buffer): Promise<Buffer>
}

/** Raised by var()/body() when the call is over or its connection closed. */
export class CallClosedError extends Error {
  override name = 'CallClosedError'
}

const noop = (): void => {}

export class GatewayCall {
  readonly id: number
  readonly #channel: ExtraInfoChannel
  readonly #vars = new Map<string, Promise<string | undefined>>()
  #body: Promise<Buffer | undefined> | undefined
  /** The last question in flight; the next one waits for it (strict alternation). */
  #chain: Promise<unknown> = Promise.resolve()
  #over: string | undefined
  #controller: AbortController | undefined
  #aborted: CallClosedError | undefined

  constructor(id: number, channel: ExtraInfoChannel) {
    this.id = id
    this.#channel = channel
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted !== undefined) this.#controller.abort(this.#aborted)
    }
    return this.#controller.signal
  }

  var(name: string): Promise<string | undefined> {
    try {
      checkBinary(name, 'a variable name')
    } catch (err) {
      return Promise.reject(err)
    }
    let value = this.#vars.get(name)
    if (value === undefined) {
      value = this.#ask({ kind: Info.Var, name }).then((result) => result?.toString('latin1'))
      value.catch(noop)
      this.#vars.set(name, value)
    }
    return value
  }

  /** ReqBody in the request phase, RespBody in the response phase; asked once per call. */
  body(kind: typeof Info.ReqBody | typeof Info.RespBody): Promise<Buffer | undefined> {
    if (this.#body === undefined) {
      this.#body = this.#ask({ kind })
      this.#body.catch(noop)
    }
    return this.#body
  }

  #ask(request: ExtraInfoRequest): Promise<Buffer | undefined> {
    const run = async (): Promise<Buffer | undefined> => {
      if (this.#over !== undefined) throw new CallClosedError(this.#over)
      const payload = await this.#channel.ask(encodeExtraInfoRequest(request))
      return decodeExtraInfoResponse(payload).result
    }
    const answer = this.#chain.then(run, run)
    this.#chain = answer.catch(noop)
    return answer
  }

  /** Resolves when no question is in flight, so the final reply cannot overtake one. */
  settled(): Promise<unknown> {
    return this.#chain
  }

  /** The reply went out: later questions fail instead of stealing the next call's frames. */
  end(): void {
    this.#over ??= 'the call is over: var() and body() must be awaited inside the filter'
  }

  /** The connection closed before the reply. */
  abort(reason: string): void {
    this.#over ??= reason
    this.#aborted ??= new CallClosedError(reason)
    this.#controller?.abort(this.#aborted)
  }
}

const NOT_BINARY = /[^\u0000-\u00ff]/

/**
 * Wire text is a binary string (one char per byte). A char above U+00FF cannot be one byte:
 * the plugin passed Unicode text where bytes were expected, which would be mangled.
 */
export function checkBinary(text: string, what: string): string {
  if (typeof text !== 'string') throw new TypeError(`${what} must be a string`)
  if (NOT_BINARY.test(text)) {
    throw new TypeError(`${what} must be a binary string (one char per byte); use utf8ToBinary() for text: ${JSON.stringify(text)}`)
  }
  return text
}

export function toBuffer(body: BodyInput): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (Buffer.isBuffer(body)) return body
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  throw new TypeError('a body must be a string or a Uint8Array')
}

/** Several written chunks as one body; undefined when there is nothing to send. */
export function joinBody(chunks: readonly Buffer[] | undefined): Buffer | undefined {
  if (chunks === undefined || chunks.length === 0) return undefined
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  return body.length === 0 ? undefined : body
}

export function checkStatus(status: number): number {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`an HTTP status must be an integer from 100 to 999, got ${String(status)}`)
  }
  return status
}
