// The runner's answers applied to the exchange exactly as APISIX applies them
// (protocol.md §5 for HTTPReqCall, §4.4 for HTTPRespCall).
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

/** Stop (§5.2): status 0 is 200; names lower-cased; first line of a name sets, later ones append. */
export function stopToResponse(stop: StopAction<DecodedTextEntry>): FinalResponse {
  const headers = new HeaderList()
  setThenAppend(headers, stop.headers, (name, value) => (value === undefined ? headers.delete(name) : undefined))
  return {
    status: stop.status === 0 ? 200 : stop.status,
    headers,
    body: stop.body !== undefined && stop.body.length > 0 ? Buffer.from(stop.body) : undefined,
  }
}

/** Rewrite (§5.3), in APISIX's order: path, headers, body, resp_headers, args, upstream URI. */
export function applyRewrite(exchange: Exchange, rewrite: RewriteAction<DecodedTextEntry>): void {
  const path = rewrite.path === undefined ? undefined : escapePath(binary(rewrite.path))

  for (const { name, value } of rewrite.headers) {
    if (value === undefined) exchange.headers.delete(name)
    else exchange.headers.set(name, value)
    if (sameName(name, 'host')) exchange.upstreamHost = value
  }

  if (rewrite.body !== undefined && rewrite.body.length > 0) exchange.body.replace(Buffer.from(rewrite.body))

  const respHeaders = rewrite.respHeaders.filter(({ name }) => !EXCLUDED_RESP_HEADERS.has(name.toLowerCase()))
  const seen = new Set<string>()
  for (const { name, value } of respHeaders) {
    if (value === undefined) continue
    const lower = name.toLowerCase()
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
export function applyRespCall(response: ExchangeResponse, answer: HTTPRespCallResponse<DecodedTextEntry>): void {
  if (answer.status !== 0) response.status = answer.status
  if (answer.headers.length > 0) {
    const headers = new HeaderList()
    setThenAppend(headers, answer.headers)
    response.headers = headers
  }
  if (answer.body !== undefined && answer.body.length > 0) response.body = Buffer.from(answer.body)
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
