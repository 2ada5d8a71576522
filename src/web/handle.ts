// One mounted route over one Web-standard request (`Request` → `Response`): what the fetch
// adapter calls, the counterpart of src/http/handle.ts for node:http.
//
// Wrappers can be nested (an app-wide route playing APISIX's global rule around a router's):
// the Request a wrapper hands on is registered with the request's state, so the inner wrapper
// shares its Exchange (later mounts see earlier rewrites, variables are the request's) and
// its list of response phases. The first wrapper to see the application's Response (the
// innermost) runs every registered response phase, in mount order, once; the outer ones
// pass the result on.
import { patchResponseHeaders } from '../engine/apply-actions.js'
import { withErrorPage } from '../engine/error-page.js'
import { Exchange } from '../engine/exchange.js'
import { HeaderList } from '../engine/headers.js'
import type { Pipeline } from '../engine/pipeline.js'
import type { FinalResponse } from '../engine/plugin.js'
import type { Route } from '../engine/route.js'
import { hasResponsePhase, runRequestPhases, runResponsePhase } from '../engine/run.js'
import type { ExtPlugin } from '../ext-plugin.js'
import { hold, readRequestBody, resumed } from './body.js'
import { frameResponse, toHeaderList, toHeaders, type FrameOptions } from './frame.js'

/** Where the request is: still before the application, or answered (by a plugin or the application). */
type Stage = 'request' | 'answered'

interface RequestState {
  readonly exchange: Exchange
  /** Pipelines with a response phase, in the order their mounts ran. */
  readonly responsePipelines: Pipeline[]
  stage: Stage
  stopped: boolean
}

/** What the server knows and a Request does not. */
export interface Connection {
  readonly remoteAddress?: string | undefined
  readonly remotePort?: number | undefined
}

const requests = new WeakMap<Request, RequestState>()

/**
 * Runs `route`'s plugins around `handler`: the request phases, then (unless a plugin
 * answered) the application with the rewritten request, then the response phases over its
 * Response. Always resolves to the Response the client gets; rejects only when `handler` does.
 */
export async function runWeb<R extends unknown[]>(
  ext: ExtPlugin,
  route: Route,
  request: Request,
  rest: R,
  handler: (request: Request, ...rest: R) => Response | Promise<Response>,
  connection: () => Connection,
): Promise<Response> {
  const state = stateOf(ext, request, connection)
  const { exchange } = state
  const pipeline = route.pipeline
  if (hasResponsePhase(pipeline)) state.responsePipelines.push(pipeline)
  let stop: FinalResponse | undefined
  try {
    stop = await runRequestPhases(pipeline, exchange, ext.logger)
  } catch (err) {
    ext.logger.error({ method: exchange.method, url: exchange.requestUri, err }, `request phases failed: ${describe(err)}`)
    stop = withErrorPage({ status: 500, headers: new HeaderList(), body: undefined })
  }
  if (stop !== undefined) return respondEarly(ext, state, stop)
  // The client left while the runner was thinking: nobody is waiting for the application.
  // (nginx logs such a request as 499; the Response goes nowhere.)
  if (request.signal.aborted) return answered(state, new Response(null, { status: 499 }))

  let forward: Request
  try {
    forward = await applicationRequest(ext, state, request)
  } catch (err) {
    ext.logger.error({ method: exchange.method, url: exchange.requestUri, err }, `the rewritten request could not be built: ${describe(err)}`)
    return respondEarly(ext, state, withErrorPage({ status: 500, headers: new HeaderList(), body: undefined }))
  }
  const response = await handler(forward, ...rest)
  if (state.stage === 'answered') return response
  state.stage = 'answered'
  if (state.responsePipelines.length === 0) return withPatches(ext, state, response)
  return finishResponse(ext, state, response)
}

function stateOf(ext: ExtPlugin, request: Request, connection: () => Connection): RequestState {
  let state = requests.get(request)
  if (state === undefined) {
    state = { exchange: exchangeOf(ext, request, connection()), responsePipelines: [], stage: 'request', stopped: false }
    requests.set(request, state)
  }
  return state
}

function exchangeOf(ext: ExtPlugin, request: Request, connection: Connection): Exchange {
  const href = request.url
  const url = new URL(href)
  // The target as the client sent it (the URL parser would have decoded nothing, but keep the
  // text byte for byte): everything from the first `/` after the authority, no fragment.
  const start = href.indexOf('/', href.indexOf('//') + 2)
  const hash = href.indexOf('#')
  const target = start < 0 ? '/' : href.slice(start, hash < 0 ? undefined : hash)
  const scheme = url.protocol === 'https:' ? 'https' : 'http'
  return new Exchange({
    method: request.method,
    url: target,
    headers: toHeaderList(request.headers),
    scheme,
    remoteAddress: unmapped(connection.remoteAddress),
    remotePort: connection.remotePort,
    serverPort: url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port),
    body: { read: () => readRequestBody(request, ext.maxBodySize) },
    variables: ext.variables,
  })
}

/**
 * The Request the application gets: the same object when nothing changed, else a new one
 * with the rewritten URL, headers and body (the bytes read for a runner, or its replacement).
 */
async function applicationRequest(ext: ExtPlugin, state: RequestState, request: Request): Promise<Request> {
  const { exchange } = state
  const replacement = exchange.body.replacement
  if (replacement !== undefined) {
    exchange.headers.set('content-length', String(replacement.length))
    exchange.headers.delete('transfer-encoding')
  }
  const target = exchange.url
  const changed = target !== exchange.requestUri || exchange.headers.modified || exchange.body.consumed || replacement !== undefined
  if (!changed) return register(request, state)
  const bodyless = request.method === 'GET' || request.method === 'HEAD'
  const body = bodyless ? null : exchange.body.consumed || replacement !== undefined ? ((await exchange.body.read()) ?? null) : request.body
  // Joined as text: resolved as a URL, a rewritten path `//x/y` would name another host.
  const forward = new Request(new URL(request.url).origin + target, {
    method: request.method,
    headers: exchange.headers.modified ? toHeaders(exchange.headers, ext.logger) : request.headers,
    body,
    signal: request.signal,
    // A stream body needs it (Node's Request refuses one without).
    duplex: 'half',
    redirect: request.redirect,
  } as RequestInit)
  return register(forward, state)
}

function register(request: Request, state: RequestState): Request {
  requests.set(request, state)
  return request
}

async function respondEarly(ext: ExtPlugin, state: RequestState, stop: FinalResponse): Promise<Response> {
  state.stopped = true
  state.stage = 'answered'
  const final = await responsePhases(ext, state, stop)
  // The rest of an oversized body is not worth reading: close after answering, as nginx does.
  return send(ext, state, final, { isHead: state.exchange.method === 'HEAD', close: final.status === 413 })
}

/** Holds the application's body for the response phases; one too big is streamed unchanged. */
async function finishResponse(ext: ExtPlugin, state: RequestState, response: Response): Promise<Response> {
  const { exchange } = state
  const isHead = exchange.method === 'HEAD'
  let body: Buffer | undefined
  // Nothing is sent for HEAD (nor for 204 and 304): nothing is held for the response phase either.
  if (response.body !== null && !isHead && response.status !== 204 && response.status !== 304) {
    const held = await hold(response.body, ext.maxBodySize)
    if (held.type === 'overflow') {
      ext.logger.warn(
        { phase: 'response', method: exchange.method, url: exchange.requestUri },
        `response body larger than maxBodySize (${ext.maxBodySize} bytes): response phase skipped`,
      )
      const init = { status: response.status, statusText: response.statusText, headers: response.headers }
      return withPatches(ext, state, new Response(resumed(held.chunks, held.reader), init))
    }
    body = held.body
  }
  const headers = toHeaderList(response.headers)
  // A HEAD response has no body to measure: keep the length the application declared,
  // unless the response phase gave it a body of its own.
  const declaredLength = headers.get('content-length')
  const final = await responsePhases(ext, state, { status: response.status, headers, body })
  return send(ext, state, final, { isHead, declaredLength })
}

/** Runs every registered response phase over `response`; returns the final response. */
async function responsePhases(ext: ExtPlugin, state: RequestState, response: FinalResponse): Promise<FinalResponse> {
  const { exchange } = state
  exchange.response = response
  for (const pipeline of state.responsePipelines) {
    try {
      await runResponsePhase(pipeline, exchange, ext.logger, state.stopped)
    } catch (err) {
      ext.logger.error({ phase: 'response', method: exchange.method, url: exchange.requestUri, err }, `response phase failed: ${describe(err)}`)
    }
  }
  return exchange.response
}

function send(ext: ExtPlugin, state: RequestState, response: FinalResponse, options: FrameOptions): Response {
  patchOnce(response.headers, state.exchange)
  return frameResponse(response.status, response.headers, response.body, options, ext.logger)
}

/** The application's Response with a Rewrite's resp_headers applied (a copy: its headers may be immutable). */
function withPatches(ext: ExtPlugin, state: RequestState, response: Response): Response {
  const { exchange } = state
  if (exchange.responseHeaders.length === 0 || exchange.engine.responsePatches === 'applied') return response
  const headers = toHeaderList(response.headers)
  patchOnce(headers, exchange)
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: toHeaders(headers, ext.logger) })
}

function answered(state: RequestState, response: Response): Response {
  state.stage = 'answered'
  return response
}

/** Rewrite.resp_headers go onto the response once, whichever path sends it. */
function patchOnce(headers: HeaderList, exchange: Exchange): void {
  if (exchange.responseHeaders.length === 0 || exchange.engine.responsePatches === 'applied') return
  exchange.engine.responsePatches = 'applied'
  patchResponseHeaders(headers, exchange)
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is 1.2.3.4, as nginx reports it. */
function unmapped(address: string | undefined): string {
  if (address === undefined) return ''
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err)
}
