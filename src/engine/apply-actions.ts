// The runner's answers applied to the exchange exactly as APISIX applies them
// (protocol.md §5 for HTTPReqCall, §4.4 for HTTPRespCall).
import { ErrorCode, ExtPluginError } from '../errors.js'
import type { DecodedTextEntry, HTTPRespCallResponse, RewriteAction, StopAction } from '../protocol/index.js'
import { rewriteArgs } from './args.js'
import type { Exchange, ExchangeResponse } from './exchange.js'
import { HeaderList, sameName } from './headers.js'
import type { FinalResponse } from './plugin.js'
import { escapePath } from './uri.js'

/** Response headers a Rewrite may not set (protocol.md §5.3 step 4): dropped silently. */
const EXCLUDED_RESP_HEADERS = new Set([
  'connection',
  'content-length',
  'transfer-encoding',
  'location',
  'server',
  'www-authenticate',
  'content-encoding',
  'content-type',
  'content-location',
  'content-language',
])

/**
 * Headers that frame the message or belong to one connection: the library frames every
 * response it writes itself, so a runner's values for these are never copied (a Stop with
 * Transfer-Encoding beside our Content-Length would be a response-smuggling pattern).
 */
export const FRAMING_HEADERS = new Set([
  'transfer-encoding',
  'content-length',
  'connection',
  'keep-alive',
  'upgrade',
  'trailer',
  'te',
  'proxy-connection',
])

/** What an answer may carry at most; over it the answer is a runner failure. */
export interface AnswerLimits {
  readonly maxHeaders: number
}

export const DEFAULT_LIMITS: AnswerLimits = { maxHeaders: 1000 }

function invalidAnswer(message: string): ExtPluginError {
  return new ExtPluginError(ErrorCode.INVALID_ANSWER, `invalid runner answer: ${message}`)
}

/** A final status the library may send: 200–599 (no 1xx, nothing Node would refuse). */
function checkStatus(status: number, what: string): void {
  if (!Number.isInteger(status) || status < 200 || status > 599) throw invalidAnswer(`${what} status ${status} is not a final status (200-599)`)
}

function checkCount(entries: readonly unknown[], what: string, limits: AnswerLimits): void {
  if (entries.length > limits.maxHeaders) throw invalidAnswer(`${entries.length} ${what} (maxHeaders is ${limits.maxHeaders})`)
}

/**
 * Stop (§5.2): status 0 is 200; names lower-cased; first line of a name sets, later ones
 * append. Throws INVALID_ANSWER (a runner failure) before anything is applied.
 */
export function stopToResponse(stop: StopAction<DecodedTextEntry>, limits: AnswerLimits = DEFAULT_LIMITS): FinalResponse {
  const status = stop.status === 0 ? 200 : stop.status
  checkStatus(status, 'Stop')
  checkCount(stop.headers, 'Stop headers', limits)
  const headers = new HeaderList()
  setThenAppend(headers, stop.headers, (name, value) => (value === undefined ? headers.delete(name) : undefined))
  return { status, headers, body: bodyOf(stop.body) }
}

/** Checks a Rewrite against the limits before any of it is applied. */
export function checkRewrite(rewrite: RewriteAction<DecodedTextEntry>, limits: AnswerLimits = DEFAULT_LIMITS): void {
  checkCount(rewrite.headers, 'Rewrite headers', limits)
  checkCount(rewrite.respHeaders, 'Rewrite resp_headers', limits)
  checkCount(rewrite.args, 'Rewrite args', limits)
}

/** Rewrite (§5.3), in APISIX's order: path, headers, body, resp_headers, args, upstream URI. */
export function applyRewrite(exchange: Exchange, rewrite: RewriteAction<DecodedTextEntry>): void {
  const path = rewrite.path === undefined ? undefined : escapePath(binary(rewrite.path))

  for (const { name, value } of rewrite.headers) {
    if (value === undefined) exchange.headers.delete(name)
    else exchange.headers.set(name, value)
    if (sameName(name, 'host')) exchange.upstreamHost = value
  }

  const body = bodyOf(rewrite.body)
  if (body !== undefined) exchange.body.replace(body)

  const seen = new Set<string>()
  for (const { name, value } of rewrite.respHeaders) {
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (EXCLUDED_RESP_HEADERS.has(lower) || FRAMING_HEADERS.has(lower)) continue
    exchange.responseHeaders.push({ name: lower, value, mode: seen.has(lower) ? 'append' : 'set' })
    seen.add(lower)
  }

  if (rewrite.args.length > 0) exchange.args = rewriteArgs(exchange.args, rewrite.args)

  // The query goes with whatever path the application sees: only the path is replaced here.
  if (path !== undefined) exchange.upstreamUri = path
}

/**
 * HTTPRespCall's answer (§4.4 step 4): a new status if non-zero; a non-empty header list
 * replaces the application's headers (names lower-cased, first sets, later append); a
 * non-empty body replaces the body. An empty list keeps the application's headers: APISIX
 * copies them minus ten names, losing Content-Type, which we do not reproduce.
 */
export function applyRespCall(
  response: ExchangeResponse,
  answer: HTTPRespCallResponse<DecodedTextEntry>,
  limits: AnswerLimits = DEFAULT_LIMITS,
): void {
  // Validated whole before anything changes: a failure leaves the response as it was.
  if (answer.status !== 0) checkStatus(answer.status, 'HTTPRespCall')
  checkCount(answer.headers, 'HTTPRespCall headers', limits)
  if (answer.status !== 0) response.status = answer.status
  if (answer.headers.length > 0) {
    const headers = new HeaderList()
    setThenAppend(headers, answer.headers)
    response.headers = headers
  }
  const body = bodyOf(answer.body)
  if (body !== undefined) response.body = body
}

/**
 * A body from a decoded answer, as a view of the frame it arrived in rather than a copy:
 * the frame is this answer's own buffer, so holding the view costs nothing more.
 */
function bodyOf(bytes: Uint8Array | undefined): Buffer | undefined {
  if (bytes === undefined || bytes.length === 0) return undefined
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function binary(text: string | Uint8Array): string {
  return typeof text === 'string' ? text : Buffer.from(text).toString('latin1')
}

/** Lower-cases names; the first line of each name sets, later ones append. */
function setThenAppend(
  headers: HeaderList,
  entries: readonly DecodedTextEntry[],
  onMissingValue?: (name: string, value: undefined) => void,
): void {
  const seen = new Set<string>()
  for (const { name, value } of entries) {
    const lower = name.toLowerCase()
    if (value === undefined) {
      onMissingValue?.(lower, undefined)
      continue
    }
    if (seen.has(lower)) headers.append(lower, value)
    else headers.set(lower, value)
    seen.add(lower)
  }
}

/** Applies the recorded response header changes to the headers the application set. */
export function patchResponseHeaders(headers: HeaderList, exchange: Exchange): void {
  for (const { name, value, mode } of exchange.responseHeaders) {
    if (mode === 'set') headers.set(name, value)
    else headers.append(name, value)
  }
}
