// The request phase (HTTPReqCall, protocol.md §4.2 and §5): what plugins see, and the
// action the reply carries: Stop if a plugin used the StopResponse, else Rewrite with what
// the plugins changed, else no action.
import type { Logger } from '../logger.js'
import { Info, methodName, type ReqCallAction, type decodeHTTPReqCallRequest } from '../protocol/index.js'
import { ArgList } from './args.js'
import { checkBinary, checkStatus, joinBody, toBuffer, type GatewayCall } from './call.js'
import { RequestHeaderList, ResponseHeaderList } from './headers.js'
import { formatIp } from './ip.js'
import type { BodyInput, RunnerRequest, StopResponse } from './types.js'

export type DecodedReqCall = ReturnType<typeof decodeHTTPReqCallRequest>

export class RunnerRequestImpl implements RunnerRequest {
  readonly method: string
  readonly args: ArgList
  readonly headers: RequestHeaderList
  readonly respHeaders = new ResponseHeaderList()
  readonly srcIpBytes: Buffer
  readonly #call: GatewayCall
  readonly #originalPath: string
  readonly #logger: Logger
  #path: string
  #body: Buffer | undefined

  constructor(call: GatewayCall, request: DecodedReqCall, logger: Logger) {
    this.#call = call
    this.#logger = logger
    this.method = methodName(request.method) ?? `Method(${request.method})`
    this.#originalPath = this.#path = request.path
    this.args = new ArgList(request.args)
    this.headers = new RequestHeaderList(request.headers)
    this.srcIpBytes = request.srcIp
  }

  get id(): number {
    return this.#call.id
  }

  get signal(): AbortSignal {
    return this.#call.signal
  }

  get path(): string {
    return this.#path
  }

  set path(path: string) {
    if (path === '') throw new TypeError('a path must not be empty')
    this.#path = checkBinary(path, 'a path')
  }

  get srcIp(): string | undefined {
    return formatIp(this.srcIpBytes)
  }

  var(name: string): Promise<string | undefined> {
    return this.#call.var(name)
  }

  body(): Promise<Buffer | undefined> {
    return this.#call.body(Info.ReqBody)
  }

  setBody(body: BodyInput): void {
    const bytes = toBuffer(body)
    if (bytes.length === 0) {
      this.#logger.warn({ call: this.id }, `call ${this.id}: an empty request body cannot be sent (it means "keep the body"); ignored`)
      return
    }
    this.#body = bytes
  }

  /** The Rewrite for what plugins changed; undefined when they changed nothing. */
  rewrite(): ReqCallAction | undefined {
    const path = this.#path === this.#originalPath ? undefined : this.#path
    const headers = this.headers.changes()
    const args = this.args.changes()
    const respHeaders = this.respHeaders.toEntries()
    const body = this.#body
    if (path === undefined && headers.length === 0 && args.length === 0 && respHeaders.length === 0 && body === undefined) {
      return undefined
    }
    return { type: 'rewrite', path, headers, args, respHeaders, body }
  }
}

export class StopResponseImpl implements StopResponse {
  readonly headers = new ResponseHeaderList()
  #status = 0
  #chunks: Buffer[] | undefined

  get status(): number {
    return this.#status
  }

  get stopped(): boolean {
    return this.#status !== 0 || this.#chunks !== undefined || this.headers.changed
  }

  setStatus(status: number): this {
    this.#status = checkStatus(status)
    return this
  }

  write(chunk: BodyInput): this {
    ;(this.#chunks ??= []).push(toBuffer(chunk))
    return this
  }

  setBody(body: BodyInput): this {
    this.#chunks = [toBuffer(body)]
    return this
  }

  action(): ReqCallAction {
    return { type: 'stop', status: this.#status || 200, headers: this.headers.toEntries(), body: joinBody(this.#chunks) }
  }
}
