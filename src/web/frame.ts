// The one place that frames a Response the library makes itself (a runner's Stop, a 503, a
// response the response phase held and changed), with the rules src/http/frame.ts applies on
// node:http: Content-Length is the number of bytes sent, no framing or connection header from
// a runner or a held response is copied, HEAD keeps the length GET has, 204 and 304 carry
// neither body nor Content-Length.
//
// A Web Response cannot carry repeated header lines other than Set-Cookie: `Headers` joins
// them with ", ", which RFC 9110 §5.3 makes the same field.
import { FRAMING_HEADERS } from '../engine/apply-actions.js'
import { HeaderList } from '../engine/headers.js'
import type { Logger } from '../logger.js'

export interface FrameOptions {
  readonly isHead: boolean
  /** HEAD only: the length the application declared for the body it did not send. */
  readonly declaredLength?: string | undefined
  /** Ask the server to close the connection after this response (a 413 whose body is left unread). */
  readonly close?: boolean
}

/** `status`, `headers` and `body` as the whole Response. A status outside 200–599 becomes a 500. */
export function frameResponse(status: number, headers: HeaderList, body: Buffer | undefined, options: FrameOptions, logger: Logger): Response {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    logger.error({ status }, `refused to send status ${status}: not a final status (200-599); sending 500`)
    status = 500
    body = undefined
  }
  const out = new Headers()
  let close = options.close === true
  for (const [name, value] of headers) {
    const key = name.toLowerCase()
    if (FRAMING_HEADERS.has(key)) {
      if (key === 'connection' && /\bclose\b/i.test(value)) close = true
      continue
    }
    append(out, name, value, logger)
  }
  if (close) out.set('connection', 'close')
  const bodiless = status === 204 || status === 304
  if (!bodiless) {
    const declared = options.isHead && body === undefined ? options.declaredLength : undefined
    out.set('content-length', declared ?? String(body?.length ?? 0))
  }
  const payload = bodiless || options.isHead || body === undefined || body.length === 0 ? null : body
  return new Response(payload, { status, headers: out })
}

/** A HeaderList as Headers; a line Headers refuses (a name or value no HTTP field can have) is logged and dropped. */
export function toHeaders(list: HeaderList, logger: Logger): Headers {
  const out = new Headers()
  for (const [name, value] of list) append(out, name, value, logger)
  return out
}

/** Headers as a HeaderList: names lower case (Headers keeps no case), Set-Cookie lines kept apart. */
export function toHeaderList(headers: Headers): HeaderList {
  const raw: string[] = []
  for (const [name, value] of headers) raw.push(name, value)
  return new HeaderList(raw)
}

function append(headers: Headers, name: string, value: string, logger: Logger): void {
  try {
    headers.append(name, value)
  } catch (err) {
    logger.error({ header: name, err }, `dropped invalid header ${JSON.stringify(name)}: ${(err as Error).message}`)
  }
}
