// The one patch this library puts on a ServerResponse: writeHead, write, end and
// flushHeaders are replaced once per response by module-level functions (no closures per
// request) that look the interceptor up on the response and act on its mode:
//
//   PatchHeaders  the application's response streams as it is; at writeHead (where every
//                 response, explicit or implicit, passes) the runner's resp_headers are
//                 applied on top of what the application set.
//   Hold          nothing reaches the client: status, headers and body are held until the
//                 application ends, then handed to the owner for the response phase, which
//                 sends the final response through frameResponse. A body over the limit is
//                 not held: what is held goes out as it is, the rest streams, and the mode
//                 becomes PatchHeaders (the response phase is skipped, with a warning).
//   Passthrough   the library wrote the response itself (or has nothing to do): every call
//                 goes straight to the methods the response had before.
//
// The application's writeHead arguments are read the way Node reads them: an object sets
// each name; a flat [name, value, …] array (or [[name, value], …]) replaces each name it
// carries, keeping repeated lines; a string second argument is the reason phrase.
import type { OutgoingHttpHeader, ServerResponse } from 'node:http'
import type { HeaderList } from '../engine/headers.js'
import { responseHeaderList } from './node-headers.js'

export enum InterceptMode {
  PatchHeaders = 'patch-headers',
  Hold = 'hold',
  Passthrough = 'passthrough',
}

type WriteCallback = (err?: Error | null) => void

/** What the application sent while the response was held. */
export interface HeldResponse {
  readonly status: number
  readonly headers: HeaderList
  readonly body: Buffer | undefined
}

/** What the interceptor asks of its owner. */
export interface InterceptorOwner {
  /** PatchHeaders: applies the runner's response-header changes to the response, once. */
  patchHeaders(res: ServerResponse): void
  /** Hold: the application ended; the owner sends the final response (then calls `release`). */
  held(response: HeldResponse): void
  /** Hold: the body outgrew the limit; it streams from now on. */
  overflowed(): void
}

// The response's methods as they were before (Node's, or another library's wrappers).
interface Originals {
  readonly writeHead: (this: ServerResponse, status: number, reason?: string) => ServerResponse
  readonly write: (this: ServerResponse, ...args: unknown[]) => boolean
  readonly end: (this: ServerResponse, ...args: unknown[]) => ServerResponse
  readonly flushHeaders: (this: ServerResponse) => void
}

const INTERCEPTOR = Symbol('apisix-ext-plugin interceptor')

type Intercepted = ServerResponse & { [INTERCEPTOR]: ResponseInterceptor }

export class ResponseInterceptor {
  mode: InterceptMode
  readonly #res: ServerResponse
  readonly #owner: InterceptorOwner
  readonly #original: Originals
  readonly #isHead: boolean
  #limit = Infinity
  #chunks: Buffer[] = []
  #size = 0
  /** The application's end() callback while its end is being answered; undefined before. */
  #endCallback: WriteCallback | undefined
  #ended = false

  constructor(res: ServerResponse, owner: InterceptorOwner, mode: InterceptMode) {
    this.#res = res
    this.#owner = owner
    this.mode = mode
    this.#isHead = res.req?.method === 'HEAD'
    this.#original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders } as unknown as Originals
    ;(res as Intercepted)[INTERCEPTOR] = this
    res.writeHead = writeHead as ServerResponse['writeHead']
    res.write = write as ServerResponse['write']
    res.end = end as ServerResponse['end']
    res.flushHeaders = flushHeaders
  }

  /** Holds the whole response from now on (bodies up to `limit` bytes). */
  hold(limit: number): void {
    this.mode = InterceptMode.Hold
    this.#limit = limit
  }

  /** True while the response is held and the application has not ended it. */
  get holding(): boolean {
    return this.mode === InterceptMode.Hold
  }

  /** Stops intercepting; returns the application's end() callback, to run once the response is written. */
  release(): () => void {
    this.mode = InterceptMode.Passthrough
    const cb = this.#endCallback
    this.#endCallback = undefined
    return () => cb?.()
  }

  writeHead(status: number, reason: unknown, headers: unknown): ServerResponse {
    const res = this.#res
    if (typeof reason !== 'string') {
      headers = reason
      reason = undefined
    }
    if (headers !== undefined && headers !== null) foldHeaders(res, headers)
    if (this.mode === InterceptMode.Hold) {
      res.statusCode = status
      if (reason !== undefined) res.statusMessage = reason as string
      return res
    }
    if (this.mode === InterceptMode.PatchHeaders) {
      this.mode = InterceptMode.Passthrough
      this.#owner.patchHeaders(res)
    }
    return reason === undefined ? this.#original.writeHead.call(res, status) : this.#original.writeHead.call(res, status, reason as string)
  }

  flushHeaders(): void {
    this.#original.flushHeaders.call(this.#res)
  }

  write(chunk: unknown, encoding: unknown, callback: unknown): boolean {
    const cb = (typeof encoding === 'function' ? encoding : callback) as WriteCallback | undefined
    if (this.mode !== InterceptMode.Hold) return forward(this.#original.write, this.#res, chunk, encoding, callback) as boolean
    this.#hold(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined)
    if (cb !== undefined) process.nextTick(cb)
    return true
  }

  end(chunk: unknown, encoding: unknown, callback: unknown): ServerResponse {
    const res = this.#res
    if (this.mode !== InterceptMode.Hold) return forward(this.#original.end, res, chunk, encoding, callback) as ServerResponse
    // end() twice: the first one is being answered.
    if (this.#ended) return res
    let cb: WriteCallback | undefined
    if (typeof chunk === 'function') [cb, chunk] = [chunk as WriteCallback, undefined]
    else if (typeof encoding === 'function') [cb, encoding] = [encoding as WriteCallback, undefined]
    else cb = callback as WriteCallback | undefined
    this.#hold(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined)
    if (this.mode !== InterceptMode.Hold) return this.#original.end.call(res, cb) // overflowed on this last chunk
    this.#ended = true
    this.#endCallback = cb
    // HEAD: no body is held, but its length is announced as Node would announce it.
    if (this.#isHead && this.#size > 0 && !res.hasHeader('content-length')) res.setHeader('content-length', this.#size)
    // One chunk is the body as it is; more are joined once (the held body's only copy).
    const chunks = this.#chunks
    const body = this.#isHead || this.#size === 0 ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#size)
    this.#chunks = []
    this.#owner.held({ status: res.statusCode, headers: responseHeaderList(res), body })
    return res
  }

  #hold(chunk: unknown, encoding: BufferEncoding | undefined): void {
    if (chunk === undefined || chunk === null) return
    // Buffers are held as given, not copied (Node's own write() queues them the same way).
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, encoding ?? 'utf8')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, (chunk as Uint8Array).byteLength)
    if (buf.length === 0) return
    this.#size += buf.length
    // Node sends no body for HEAD; neither do we hold one for the response phase to see.
    if (this.#isHead) return
    this.#chunks.push(buf)
    if (this.#size > this.#limit) this.#overflow()
  }

  /** Too big to hold: send what we have as it is and let the rest stream. */
  #overflow(): void {
    this.mode = InterceptMode.PatchHeaders
    this.#owner.overflowed()
    const chunks = this.#chunks
    this.#chunks = []
    this.#size = 0
    // The first write sends the head through writeHead above, patched.
    for (const chunk of chunks) this.#original.write.call(this.#res, chunk)
  }
}

/** The response's interceptor, if this library installed one. */
export function interceptorOf(res: ServerResponse): ResponseInterceptor | undefined {
  return (res as Partial<Intercepted>)[INTERCEPTOR]
}

function writeHead(this: Intercepted, status: number, reason?: unknown, headers?: unknown): ServerResponse {
  return this[INTERCEPTOR].writeHead(status, reason, headers)
}

function write(this: Intercepted, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
  return this[INTERCEPTOR].write(chunk, encoding, callback)
}

function end(this: Intercepted, chunk?: unknown, encoding?: unknown, callback?: unknown): ServerResponse {
  return this[INTERCEPTOR].end(chunk, encoding, callback)
}

function flushHeaders(this: Intercepted): void {
  const interceptor = this[INTERCEPTOR]
  // Held: nothing may reach the client before the response phase.
  if (interceptor.mode !== InterceptMode.Hold) interceptor.flushHeaders()
}

/** Calls one of the response's own methods with the arguments it was given. */
function forward(call: (this: ServerResponse, ...args: unknown[]) => unknown, res: ServerResponse, a: unknown, b: unknown, c: unknown): unknown {
  if (c !== undefined) return call.call(res, a, b, c)
  if (b !== undefined) return call.call(res, a, b)
  if (a !== undefined) return call.call(res, a)
  return call.call(res)
}

/** writeHead's headers argument onto the response, as Node applies it. */
function foldHeaders(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    const flat = (Array.isArray(headers[0]) ? headers.flat() : headers) as OutgoingHttpHeader[]
    // Each name given replaces what was set before; repeated lines in the array all stay.
    for (let i = 0; i + 1 < flat.length; i += 2) res.removeHeader(String(flat[i]))
    for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i]) res.appendHeader(String(flat[i]), flat[i + 1] as string)
    return
  }
  const record = headers as Record<string, OutgoingHttpHeader | undefined>
  for (const name of Object.keys(record)) {
    const value = record[name]
    if (name && value !== undefined) res.setHeader(name, value)
  }
}
