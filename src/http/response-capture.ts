// Holds back what the application writes to a ServerResponse (status, headers, body from
// writeHead/write/end, whatever pipes into it: express's sendFile, Koa's streams), so the
// response phase can see and change it before a single byte reaches the client. It is
// installed only when a route has a response phase; otherwise responses stream untouched.
//
// Bodies over `limit` are not held: the capture gives up, sends what it holds and lets the
// rest stream through unchanged, and the response phase is skipped (with a warning).
import type { ServerResponse } from 'node:http'
import type { HeaderList } from '../engine/headers.js'
import type { Logger } from '../logger.js'
import { frameResponse, type FrameOptions } from './frame.js'
import { responseHeaderList } from './node-headers.js'

type WriteCallback = (err?: Error | null) => void

export interface CapturedResponse {
  readonly status: number
  readonly headers: HeaderList
  readonly body: Buffer | undefined
}

type Patched = Pick<ServerResponse, 'writeHead' | 'write' | 'end' | 'flushHeaders'>

export class ResponseCapture {
  readonly #res: ServerResponse
  readonly #limit: number
  readonly #onEnd: (captured: CapturedResponse) => void
  readonly #onOverflow: () => void
  readonly #original: Patched
  readonly #chunks: Buffer[] = []
  #size = 0
  #endCallback: WriteCallback | undefined
  #active = true

  constructor(res: ServerResponse, limit: number, onEnd: (captured: CapturedResponse) => void, onOverflow: () => void) {
    this.#res = res
    this.#limit = limit
    this.#onEnd = onEnd
    this.#onOverflow = onOverflow
    this.#original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders }
    const self = this
    res.writeHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
      return self.#writeHead(status, rest)
    } as ServerResponse['writeHead']
    res.write = function write(chunk: unknown, encoding?: unknown, callback?: unknown) {
      return self.#write(chunk, encoding, callback)
    } as ServerResponse['write']
    res.end = function end(chunk?: unknown, encoding?: unknown, callback?: unknown) {
      return self.#end(chunk, encoding, callback)
    } as ServerResponse['end']
    res.flushHeaders = () => {}
  }

  get active(): boolean {
    return this.#active
  }

  /**
   * Stops capturing and sends `status`, `headers` and `body` as the whole response,
   * framed by frameResponse; the application's end() callback runs once it is written.
   */
  send(status: number, headers: HeaderList, body: Buffer | undefined, options: FrameOptions, logger: Logger): void {
    this.#restore()
    frameResponse(this.#res, status, headers, body, { ...options, onEnd: this.#finished }, logger)
  }

  #writeHead(status: number, rest: unknown[]): ServerResponse {
    const res = this.#res
    res.statusCode = status
    let headers = rest[0]
    if (typeof headers === 'string') {
      res.statusMessage = headers
      headers = rest[1]
    }
    if (Array.isArray(headers)) {
      // [name, value, name, value, …] (or [[name, value], …])
      const flat = headers.flat() as string[]
      for (let i = 0; i + 1 < flat.length; i += 2) appendHeader(res, flat[i]!, flat[i + 1]!)
    } else if (headers !== undefined && headers !== null) {
      for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
        if (value !== undefined) res.setHeader(name, value as string)
      }
    }
    return res
  }

  #write(chunk: unknown, encoding: unknown, callback: unknown): boolean {
    const cb = (typeof encoding === 'function' ? encoding : callback) as WriteCallback | undefined
    if (!this.#active) return call(this.#original.write, this.#res, chunk, cb) as boolean
    this.#push(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined)
    if (this.#active && cb) process.nextTick(cb)
    return true
  }

  #end(chunk: unknown, encoding: unknown, callback: unknown): ServerResponse {
    const cb = [chunk, encoding, callback].find((a) => typeof a === 'function') as WriteCallback | undefined
    const data = typeof chunk === 'function' ? undefined : chunk
    if (!this.#active) return call(this.#original.end, this.#res, data, cb) as ServerResponse
    if (this.#endCallback !== undefined || this.#res.writableEnded) return this.#res // end() twice
    this.#push(data, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined)
    if (!this.#active) return call(this.#original.end, this.#res, cb) as ServerResponse
    this.#endCallback = cb ?? (() => {})
    // One chunk is the body as it is; more are joined once (the held body's only copy).
    const chunks = this.#chunks
    const body = this.#size === 0 ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#size)
    chunks.length = 0
    this.#onEnd({ status: this.#res.statusCode, headers: responseHeaderList(this.#res), body })
    return this.#res
  }

  #push(chunk: unknown, encoding: BufferEncoding | undefined): void {
    // Node sends no body for HEAD; neither do we hold one for the response phase to see.
    if (chunk === undefined || chunk === null || this.#res.req?.method === 'HEAD') return
    // Buffers are held as given, not copied (Node's own write() queues them the same way).
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, encoding ?? 'utf8')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, (chunk as Uint8Array).byteLength)
    if (buf.length === 0) return
    this.#chunks.push(buf)
    this.#size += buf.length
    if (this.#size > this.#limit) this.#overflow()
  }

  /** Too big to hold: send what we have as it is and let the rest stream. */
  #overflow(): void {
    this.#restore()
    this.#onOverflow()
    const res = this.#res
    for (const chunk of this.#chunks.splice(0)) call(this.#original.write, res, chunk)
  }

  #restore(): void {
    if (!this.#active) return
    this.#active = false
    // Assigned back rather than deleted: `delete` would turn the response into a slow
    // dictionary-mode object for everything that touches it afterwards.
    Object.assign(this.#res, this.#original)
  }

  #finished = (): void => {
    const cb = this.#endCallback
    this.#endCallback = undefined
    cb?.()
  }
}

/** Calls one of the response's original methods, whatever its overloads. */
function call(method: unknown, res: ServerResponse, ...args: unknown[]): unknown {
  return (method as (...a: unknown[]) => unknown).apply(res, args.filter((a) => a !== undefined))
}

function appendHeader(res: ServerResponse, name: string, value: string): void {
  const current = res.getHeader(name)
  if (current === undefined) res.setHeader(name, value)
  else res.setHeader(name, [...(Array.isArray(current) ? current : [String(current)]), value])
}

/** Sets a HeaderList on the response, repeated names as arrays. Invalid lines are skipped. */
export function setHeaders(res: ServerResponse, headers: HeaderList, onInvalid?: (name: string, err: Error) => void): void {
  // Keyed by lower case, sent with the case of the first line of each name.
  const grouped = new Map<string, { name: string; values: string[] }>()
  for (const [name, value] of headers) {
    const key = name.toLowerCase()
    const group = grouped.get(key)
    if (group) group.values.push(value)
    else grouped.set(key, { name, values: [value] })
  }
  for (const { name, values } of grouped.values()) {
    try {
      res.setHeader(name, values.length === 1 ? values[0]! : values)
    } catch (err) {
      onInvalid?.(name, err as Error)
    }
  }
}
