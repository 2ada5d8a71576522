// The response phase (HTTPRespCall, protocol.md §4.4). The gateway treats a non-empty
// header list in the reply as the *complete* list for the client, and an empty one as
// "copy the upstream's, minus Content-Type and nine others". So a reply that changes
// anything carries the whole list the plugins see (the upstream's plus their changes):
// what a plugin sees is what the client gets, and a body or status change does not lose
// the upstream's Content-Type. A reply that changes nothing is empty, as the Go runner's.
import type { DecodedTextEntry, HTTPRespCallRequest, HTTPRespCallResponse } from '../protocol/index.js'
import { Info } from '../protocol/index.js'
import { checkStatus, joinBody, toBuffer, type GatewayCall } from './call.js'
import { ResponseHeaderList } from './headers.js'
import type { BodyInput, RunnerResponse } from './types.js'

/**
 * Headers about the upstream connection and its framing, left out of the list sent back
 * unless a plugin set them: the gateway frames the body it sends itself.
 */
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding']

export class RunnerResponseImpl implements RunnerResponse {
  readonly headers: ResponseHeaderList
  readonly #call: GatewayCall
  readonly #upstreamStatus: number
  #status = 0
  #chunks: Buffer[] | undefined

  constructor(call: GatewayCall, request: HTTPRespCallRequest<DecodedTextEntry>) {
    this.#call = call
    this.#upstreamStatus = request.status
    this.headers = new ResponseHeaderList(request.headers)
  }

  get id(): number {
    return this.#call.id
  }

  get signal(): AbortSignal {
    return this.#call.signal
  }

  get status(): number {
    return this.#status || this.#upstreamStatus
  }

  setStatus(status: number): this {
    this.#status = checkStatus(status)
    return this
  }

  var(name: string): Promise<string | undefined> {
    return this.#call.var(name)
  }

  body(): Promise<Buffer | undefined> {
    return this.#call.body(Info.RespBody)
  }

  setBody(body: BodyInput): this {
    this.#chunks = [toBuffer(body)]
    return this
  }

  write(chunk: BodyInput): this {
    ;(this.#chunks ??= []).push(toBuffer(chunk))
    return this
  }

  reply(): HTTPRespCallResponse {
    const id = this.#call.id
    const body = joinBody(this.#chunks)
    if (this.#status === 0 && body === undefined && !this.headers.changed) return { id, status: 0, headers: [] }
    const omit = new Set(HOP_BY_HOP)
    // A new body makes the upstream's length wrong.
    if (body !== undefined) omit.add('content-length')
    for (const name of [...omit]) if (this.headers.wasTouched(name)) omit.delete(name)
    return { id, status: this.#status, headers: this.headers.toEntries(omit), body }
  }
}
