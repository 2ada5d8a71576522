// One mounted route over one node:http request: what every adapter calls.
//
// A request may pass several mounts (an app-wide one playing APISIX's global rule, then a
// router's); they share one Exchange, so later mounts see earlier rewrites, and one
// response capture, so the response phases run once the application answered, in mount
// order (global first, as APISIX runs global rules first).
import { ErrorCode } from '../errors.js'
import { errorFields } from '../logger.js'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { Exchange } from '../engine/exchange.js'
import { HeaderList } from '../engine/headers.js'
import type { Pipeline } from '../engine/pipeline.js'
import type { FinalResponse } from '../engine/plugin.js'
import type { Route } from '../engine/route.js'
import { hasResponsePhase, runRequestPhases, runResponsePhase } from '../engine/run.js'
import { withErrorPage } from '../engine/error-page.js'
import type { ExtPlugin } from '../ext-plugin.js'
import { toIncomingHeaders } from './node-headers.js'
import { readRequestBody, replaceRequestBody, type ParsedBodyHolder } from './request-body.js'
import { frameResponse, type FrameOptions } from './frame.js'
import { applyResponsePatches, hookResponseHeaders } from './respond.js'
import { ResponseCapture, type CapturedResponse } from './response-capture.js'

interface RequestState {
  readonly exchange: Exchange
  /** Where a body parser that ran before us left the body (see request-body.ts). */
  readonly bodyHolder: ParsedBodyHolder | undefined
  /** Pipelines with a response phase, in the order their mounts ran. */
  readonly responsePipelines: Pipeline[]
  capture: ResponseCapture | undefined
  /** The URL (full, not mount-relative) the application was last given. */
  url: string
  /** The body replacement already handed to the application. */
  replacedBody: Buffer | undefined
  stopped: boolean
}

const requests = new WeakMap<IncomingMessage, RequestState>()

/**
 * Runs `route`'s request phases for `req`. Resolves true when the application should go
 * on (with the rewritten request), false when the middleware answered the client itself.
 * `originalUrl` is the request target before any framework stripped a mount path.
 */
export async function runMount(
  ext: ExtPlugin,
  route: Pick<Route, 'pipeline'>,
  req: IncomingMessage,
  res: ServerResponse,
  originalUrl: string = req.url ?? '/',
  bodyHolder?: ParsedBodyHolder,
): Promise<boolean> {
  const state = stateOf(ext, req, originalUrl, bodyHolder)
  const pipeline = route.pipeline
  const { exchange } = state
  if (hasResponsePhase(pipeline)) {
    state.responsePipelines.push(pipeline)
    state.capture ??= new ResponseCapture(
      res,
      ext.maxBodySize,
      // Nothing here may reject unobserved: an unhandled rejection would end the process.
      (captured) =>
        finishResponse(ext, state, req, res, captured).catch((err: unknown) => {
          ext.logger.error({ phase: 'response', method: exchange.method, url: exchange.requestUri, ...errorFields(err) }, `response phase failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
          res.destroy()
        }),
      () => {
        ext.logger.warn({ phase: 'response', method: exchange.method, url: exchange.requestUri, code: ErrorCode.BODY_TOO_LARGE }, `response body larger than maxBodySize (${ext.maxBodySize} bytes): response phase skipped`)
        hookResponseHeaders(res, exchange, ext.logger)
      },
    )
  }
  let stop: FinalResponse | undefined
  try {
    stop = await runRequestPhases(pipeline, exchange, ext.logger)
  } catch (err) {
    ext.logger.error({ method: req.method, url: req.url, ...errorFields(err) }, `request phases failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    stop = withErrorPage({ status: 500, headers: new HeaderList(), body: undefined })
  }
  if (stop !== undefined) {
    await respondEarly(ext, state, req, res, stop)
    return false
  }
  // The client left while the runner was thinking: nobody is waiting for the application.
  if (req.socket.destroyed) return false
  await applyToRequest(ext, state, req)
  if (exchange.responseHeaders.length > 0 && state.capture?.active !== true) hookResponseHeaders(res, exchange, ext.logger)
  return true
}

function stateOf(ext: ExtPlugin, req: IncomingMessage, originalUrl: string, bodyHolder: ParsedBodyHolder | undefined): RequestState {
  let state = requests.get(req)
  if (state === undefined) {
    state = {
      exchange: exchangeOf(ext, req, originalUrl, bodyHolder),
      bodyHolder,
      responsePipelines: [],
      capture: undefined,
      url: originalUrl,
      replacedBody: undefined,
      stopped: false,
    }
    requests.set(req, state)
  }
  return state
}

function exchangeOf(ext: ExtPlugin, req: IncomingMessage, url: string, bodyHolder: ParsedBodyHolder | undefined): Exchange {
  const socket = req.socket
  // No AbortSignal per request: a client that leaves mid-call costs the runner one answer,
  // as in APISIX, and the hot path saves a controller and two listeners per request.
  return new Exchange({
    method: req.method ?? 'GET',
    url,
    headers: new HeaderList(req.rawHeaders, true),
    scheme: (socket as TLSSocket).encrypted ? 'https' : 'http',
    remoteAddress: unmapped(socket.remoteAddress),
    remotePort: socket.remotePort,
    serverAddress: unmapped(socket.localAddress),
    serverPort: socket.localPort,
    body: { read: () => readRequestBody(req, ext.maxBodySize, bodyHolder) },
    variables: ext.variables,
  })
}

/** Hands the rewritten request to the application: URL, headers, body. */
async function applyToRequest(ext: ExtPlugin, state: RequestState, req: IncomingMessage): Promise<void> {
  const { exchange } = state
  const replacement = exchange.body.replacement
  if (replacement !== undefined && replacement !== state.replacedBody) {
    exchange.headers.set('content-length', String(replacement.length))
    exchange.headers.delete('transfer-encoding')
    await replaceRequestBody(req, replacement, ext.maxBodySize, state.bodyHolder)
    state.replacedBody = replacement
  }
  if (exchange.headers.modified) {
    req.headers = toIncomingHeaders(exchange.headers)
    req.rawHeaders = [...exchange.headers.raw]
  }
  const url = exchange.url
  if (url !== state.url) {
    // Only now, when the URL changed, work out what mount path the framework stripped.
    const prefix = mountPrefix(pathOf(state.url), pathOf(req.url ?? '/'))
    state.url = url
    const path = pathOf(url)
    req.url = prefix !== '' && path.startsWith(prefix) ? (path.slice(prefix.length) || '/') + url.slice(path.length) : url
  }
}

async function respondEarly(ext: ExtPlugin, state: RequestState, req: IncomingMessage, res: ServerResponse, stop: FinalResponse): Promise<void> {
  state.stopped = true
  const final = await responsePhases(ext, state, stop)
  // The rest of an oversized body is not worth reading: close after answering, as nginx does.
  const close = final.status === 413
  if (close) req.resume()
  send(ext, state, res, final, { isHead: req.method === 'HEAD', close })
}

async function finishResponse(ext: ExtPlugin, state: RequestState, req: IncomingMessage, res: ServerResponse, captured: CapturedResponse): Promise<void> {
  // A HEAD response has no body to measure: keep the length the application declared,
  // unless the response phase gave it a body of its own.
  const declaredLength = captured.headers.get('content-length')
  const final = await responsePhases(ext, state, { ...captured })
  send(ext, state, res, final, { isHead: req.method === 'HEAD', declaredLength })
}

/** Runs every registered response phase over `response`; returns the final response. */
async function responsePhases(ext: ExtPlugin, state: RequestState, response: FinalResponse): Promise<FinalResponse> {
  const { exchange } = state
  exchange.response = response
  for (const pipeline of state.responsePipelines) {
    try {
      await runResponsePhase(pipeline, exchange, ext.logger, state.stopped)
    } catch (err) {
      ext.logger.error({ phase: 'response', method: exchange.method, url: exchange.requestUri, ...errorFields(err) }, `response phase failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    }
  }
  return exchange.response
}

function send(ext: ExtPlugin, state: RequestState, res: ServerResponse, response: FinalResponse, options: FrameOptions): void {
  applyResponsePatches(response.headers, state.exchange)
  if (state.capture?.active) state.capture.send(response.status, response.headers, response.body, options, ext.logger)
  else frameResponse(res, response.status, response.headers, response.body, options, ext.logger)
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

/** The part of the full path a framework stripped for a mounted router (`/api` for `/api/x` → `/x`). */
function mountPrefix(fullPath: string, mountedPath: string): string {
  if (fullPath === mountedPath) return ''
  if (mountedPath !== '/' && fullPath.endsWith(mountedPath)) return fullPath.slice(0, -mountedPath.length)
  if (mountedPath === '/') return fullPath.endsWith('/') ? fullPath.slice(0, -1) : fullPath
  return ''
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is 1.2.3.4, as nginx reports it. */
function unmapped(address: string | undefined): string {
  if (address === undefined) return ''
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/**
 * The request's Exchange, created on first use and shared with every mount the request
 * passes (the gateway matches routes on it before any mount runs).
 */
export function requestExchange(ext: ExtPlugin, req: IncomingMessage, originalUrl: string = req.url ?? '/', bodyHolder?: ParsedBodyHolder): Exchange {
  return stateOf(ext, req, originalUrl, bodyHolder).exchange
}
