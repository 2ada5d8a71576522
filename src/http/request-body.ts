// The request body, read only when a runner (or a filter) asks for it, and handed back to
// the application byte for byte afterwards.
//
// Reading happens in paused mode (`read()` on 'readable'), and once the message is
// complete the bytes are pushed back with `unshift()` in the same tick: the stream has
// seen its end but not yet emitted 'end', so a body parser that runs after us reads the
// very same bytes from the very same request object, and then gets its 'end'. Nothing is
// copied beyond the one concatenation, and a request whose body nobody asks for is never
// touched (uploads keep streaming).
//
// A body parser that ran before us has consumed the stream: we then use what it left
// behind (`req.rawBody`, or `req.body` as bytes, a string, JSON or a form), which is exact
// for raw and text parsers and re-encoded for JSON and forms.
import type { IncomingMessage } from 'node:http'
import { stringify as encodeForm, parse as parseForm } from 'node:querystring'
import { ErrorCode, ExtPluginError } from '../errors.js'

/**
 * Where body parsers leave what they read: `body` (and `rawBody`, by convention). Express's
 * parsers use the request itself; Koa's use `ctx.request`.
 */
export interface ParsedBodyHolder {
  body?: unknown
  rawBody?: unknown
}

interface ParsedRequest extends IncomingMessage, ParsedBodyHolder {
  _body?: boolean
}

export function bodyTooLarge(limit: number): ExtPluginError {
  return new ExtPluginError(ErrorCode.BODY_TOO_LARGE, `the request body is larger than maxBodySize (${limit} bytes)`)
}

/** True when someone already read the stream (a body parser mounted before us). */
export function alreadyConsumed(req: IncomingMessage): boolean {
  return req.readableEnded || (req as ParsedRequest)._body === true
}

/** True when the request announces a body at all. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * The whole body, left readable for the application. Undefined when there is none.
 * Rejects with BODY_TOO_LARGE past `limit` (checked against Content-Length first).
 */
export function readRequestBody(
  req: IncomingMessage,
  limit: number,
  holder: ParsedBodyHolder = req as ParsedRequest,
): Promise<Buffer | undefined> {
  if (alreadyConsumed(req)) return Promise.resolve(parsedBody(req, holder))
  if (!hasBody(req)) return Promise.resolve(undefined)
  const declared = Number(req.headers['content-length'])
  if (declared > limit) return Promise.reject(bodyTooLarge(limit))
  return drain(req, limit, (body) => body).then((body) => (body.length > 0 ? body : undefined))
}

/**
 * Reads every byte of the stream (stopping past `limit`). `putBack` decides what goes back
 * into the stream, and runs in the very tick the end was reached: a single promise hop
 * later, Node would already have emitted 'end' and the bytes would be lost.
 */
function drain(req: IncomingMessage, limit: number, putBack: (body: Buffer) => Buffer | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      req.removeListener('readable', onReadable)
      req.removeListener('error', onError)
      req.removeListener('close', onClose)
    }
    const onReadable = (): void => {
      let chunk: Buffer | null
      while ((chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk)
        size += chunk.length
        if (size > limit) {
          cleanup()
          reject(bodyTooLarge(limit))
          return
        }
      }
      // Complete and drained: resolve now, in the tick where the stream reached its end,
      // so that an unshift() by the caller lands before 'end' is emitted.
      if (req.complete) {
        cleanup()
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
        const back = putBack(body)
        if (back !== undefined && back.length > 0) req.unshift(back)
        resolve(body)
      }
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const onClose = (): void => {
      if (req.complete) return
      cleanup()
      reject(new ExtPluginError(ErrorCode.SOCKET_CLOSED, 'the client closed the connection while sending the body'))
    }
    req.on('readable', onReadable)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/**
 * Makes `body` the request body the application reads, in place of the client's; fixes
 * Content-Length (and drops Transfer-Encoding) in `headers` via `setLength`.
 */
export async function replaceRequestBody(
  req: IncomingMessage,
  body: Buffer,
  limit: number,
  holder: ParsedBodyHolder = req as ParsedRequest,
): Promise<void> {
  if (alreadyConsumed(req)) {
    reparse(req, holder, body)
    return
  }
  // Whatever is still unread (or was put back) is the client's body: take it out, put ours in.
  if (hasBody(req) || req.readableLength > 0) await drain(req, Math.max(limit, req.readableLength), () => body)
  else req.unshift(body)
}

/** The bytes a body parser mounted before us consumed, from what it left behind. */
function parsedBody(req: IncomingMessage, holder: ParsedBodyHolder): Buffer | undefined {
  const raw = holder.rawBody
  if (Buffer.isBuffer(raw)) return raw.length > 0 ? raw : undefined
  if (typeof raw === 'string') return raw === '' ? undefined : Buffer.from(raw)
  const body = holder.body
  if (Buffer.isBuffer(body)) return body.length > 0 ? body : undefined
  if (typeof body === 'string') return body === '' ? undefined : Buffer.from(body)
  if (body === undefined || body === null) return undefined
  if (/urlencoded/i.test(req.headers['content-type'] ?? '')) {
    return Buffer.from(encodeForm(body as Record<string, string>))
  }
  return Buffer.from(JSON.stringify(body))
}

/** After a parser ran: give the application the new body in the shape the parser produced. */
function reparse(req: IncomingMessage, holder: ParsedBodyHolder, body: Buffer): void {
  if (Buffer.isBuffer(holder.rawBody)) holder.rawBody = body
  else if (typeof holder.rawBody === 'string') holder.rawBody = body.toString()
  const current = holder.body
  if (Buffer.isBuffer(current)) holder.body = body
  else if (typeof current === 'string') holder.body = body.toString()
  else if (/urlencoded/i.test(req.headers['content-type'] ?? '')) holder.body = { ...parseForm(body.toString()) }
  else {
    try {
      holder.body = JSON.parse(body.toString())
    } catch {
      holder.body = body
    }
  }
}
