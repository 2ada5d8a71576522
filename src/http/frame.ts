// The one place that frames a response the library writes itself (a runner's Stop, a 503, a
// response the response phase held and changed). Framing is ours alone: Content-Length is
// always the number of bytes sent, and no framing or connection header from a runner or a
// held response is copied, so no answer can produce a message a strict parser would read
// differently (Transfer-Encoding beside Content-Length, a length that is not the body's).
import type { ServerResponse } from 'node:http'
import { FRAMING_HEADERS } from '../engine/apply-actions.js'
import type { HeaderList } from '../engine/headers.js'
import { errorFields, type Logger } from '../logger.js'

export interface FrameOptions {
  readonly isHead: boolean
  /** HEAD only: the length the application declared for the body it did not send. */
  readonly declaredLength?: string | undefined
  /** Close the connection after this response (a 413 whose body is left unread). */
  readonly close?: boolean
  /** Called once the response is written (or could not be): the application's end() callback. */
  readonly onEnd?: () => void
  /**
   * `headers` are exactly what the response already holds (a held response nobody changed):
   * only the framing headers are taken off it, instead of every header removed and set again.
   */
  readonly headersInPlace?: boolean
}

/**
 * Writes `status`, `headers` and `body` as the whole response. A status outside 200–599
 * (only an in-process plugin can produce one: runner answers are checked when decoded)
 * becomes a 500. Never throws: a response that cannot be written destroys the socket.
 */
export function frameResponse(
  res: ServerResponse,
  status: number,
  headers: HeaderList,
  body: Buffer | undefined,
  options: FrameOptions,
  logger: Logger,
): void {
  if (res.headersSent || res.destroyed) return options.onEnd?.()
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    logger.error({ status }, `refused to send status ${status}: not a final status (200-599); sending 500`)
    status = 500
    body = undefined
  }
  try {
    let close = options.close === true
    if (options.headersInPlace === true) close = framingRemoved(res) || close
    else close = replaceHeaders(res, headers, logger) || close
    if (close) res.setHeader('connection', 'close')
    const bodiless = status === 204 || status === 304
    if (!bodiless) {
      const length = options.isHead && body === undefined && options.declaredLength !== undefined ? options.declaredLength : String(body?.length ?? 0)
      res.setHeader('content-length', length)
    }
    // A reason phrase the application gave belongs to its status, not to one that replaced it.
    if (res.statusCode !== status) res.statusMessage = ''
    res.statusCode = status
    res.end(bodiless || options.isHead ? undefined : body, options.onEnd)
  } catch (err) {
    logger.error(errorFields(err), `response could not be written: ${(err as Error).message}`)
    res.destroy()
    options.onEnd?.()
  }
}

/** Takes the framing headers off the response; true when one of them asked to close. */
function framingRemoved(res: ServerResponse): boolean {
  let close = false
  for (const name of FRAMING_HEADERS) {
    const value = res.getHeader(name)
    if (value === undefined) continue
    if (name === 'connection' && /\bclose\b/i.test(String(value))) close = true
    res.removeHeader(name)
  }
  return close
}

/** Makes `headers` the response's headers, minus framing; true when they asked to close. */
function replaceHeaders(res: ServerResponse, headers: HeaderList, logger: Logger): boolean {
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  let close = false
  // Keyed by lower case, sent with the case of the first line of each name.
  const grouped = new Map<string, { name: string; values: string[] }>()
  for (const [name, value] of headers) {
    const key = name.toLowerCase()
    if (FRAMING_HEADERS.has(key)) {
      if (key === 'connection' && /\bclose\b/i.test(value)) close = true
      continue
    }
    const group = grouped.get(key)
    if (group) group.values.push(value)
    else grouped.set(key, { name, values: [value] })
  }
  for (const { name, values } of grouped.values()) {
    try {
      res.setHeader(name, values.length === 1 ? values[0]! : values)
    } catch (err) {
      logger.error({ header: name }, `dropped invalid response header ${JSON.stringify(name)}: ${(err as Error).message}`)
    }
  }
  return close
}
