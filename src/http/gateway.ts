// One node:http request through a gateway: match a route on the state the request started
// with, run the global rules' and the route's plugins (runMount), then either hand the
// request to the application (a route without upstream) or proxy it to the route's upstream
// and write the upstream's answer to `res`, where the response capture of a route with a
// response phase holds it for `ext-plugin-post-resp` before a byte reaches the client.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { resolveVariable } from '../engine/variables.js'
import { bindRequest, type Gateway, type GatewayRoute, type GatewayState } from '../gateway/gateway.js'
import { hashKeyFor } from '../gateway/upstream/hash-key.js'
import { proxyRequest } from '../gateway/upstream/proxy.js'
import type { Exchange } from '../engine/exchange.js'
import { ErrorCode } from '../errors.js'
import { errorFields, type Logger } from '../logger.js'
import { consumerOf } from '../gateway/plugins/key-auth.js'
import { requestExchange, runMount } from './handle.js'
import { frameResponse } from './frame.js'
import { apisixErrorPage, errorPageHeaders } from '../gateway/error-page.js'
import { HeaderList } from '../engine/headers.js'
import type { ParsedBodyHolder } from './request-body.js'

/** What the adapter does next: nothing matched, the application plays the upstream, or it is answered. */
export type GatewayOutcome = 'unmatched' | 'application' | 'answered'

export interface RunGatewayOptions {
  /**
   * No application behind the gateway: answer as APISIX does what would go to it. A request
   * no route matched gets the global rules' rewrite and access phases, then `404
   * {"error_msg":"404 Route Not Found"}`; a matched route without upstream gets 503 (`missing
   * upstream configuration in Route or Service`). Otherwise both are left to the caller.
   */
  readonly standalone?: boolean
}

const ROUTE_NOT_FOUND = Buffer.from('{"error_msg":"404 Route Not Found"}\n')

export async function runGateway(
  gateway: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  originalUrl: string = req.url ?? '/',
  bodyHolder?: ParsedBodyHolder,
  options: RunGatewayOptions = {},
): Promise<GatewayOutcome> {
  const state = gateway.acquire()
  try {
    return await runOn(gateway, state, req, res, originalUrl, bodyHolder, options)
  } finally {
    gateway.release(state)
  }
}

async function runOn(
  gateway: Gateway,
  state: GatewayState,
  req: IncomingMessage,
  res: ServerResponse,
  originalUrl: string,
  bodyHolder: ParsedBodyHolder | undefined,
  options: RunGatewayOptions,
): Promise<GatewayOutcome> {
  const ext = gateway.ext
  const exchange = requestExchange(ext, req, originalUrl, bodyHolder)
  bindRequest(exchange, state)
  const matched = state.router.match({
    method: exchange.method,
    host: exchange.headers.get('host'),
    path: exchange.uri,
    remoteAddr: exchange.remoteAddress,
    vars: (name) => resolveVariable(exchange, name),
  })
  const route = matched === undefined ? undefined : state.routes.get(matched.id)
  if (route === undefined) {
    if (options.standalone !== true) return 'unmatched'
    if (!(await runMount(ext, { pipeline: state.unmatched }, req, res, originalUrl, bodyHolder))) return 'answered'
    // nginx types it with its default type (apisix-config.md §10.5)
    const headers = new HeaderList(['content-type', 'text/plain; charset=utf-8'])
    if (state.serverHeader !== undefined) headers.set('server', state.serverHeader)
    frameResponse(res, 404, headers, ROUTE_NOT_FOUND, { isHead: req.method === 'HEAD' }, ext.logger)
    return 'answered'
  }
  // One mount: the global rules' and the route's phases interleaved in the configured order,
  // the consumer's plugins merged in once an auth plugin identified one (gateway/plan.ts).
  if (!(await runMount(ext, route, req, res, originalUrl, bodyHolder))) return 'answered'
  if (route.upstream === undefined) {
    if (options.standalone !== true) return 'application'
    ext.logger.error({ route: route.merged.id }, 'missing upstream configuration in Route or Service')
    const headers = errorPageHeaders()
    if (state.serverHeader !== undefined) headers.set('server', state.serverHeader)
    frameResponse(res, 503, headers, apisixErrorPage(503), { isHead: req.method === 'HEAD' }, ext.logger)
    return 'answered'
  }
  await proxy(ext.logger, state, route, req, res, exchange)
  return 'answered'
}

async function proxy(logger: Logger, state: GatewayState, route: GatewayRoute, req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
  const upstream = route.upstream!
  const aborter = new AbortController()
  // Only a response not yet ended means the client left early (writableFinished may still
  // be false for an ended response whose last bytes sit in the socket's buffer).
  const onClose = (): void => {
    if (!res.writableEnded) aborter.abort()
  }
  res.once('close', onClose)
  const result = await proxyRequest({
    req,
    upstream,
    path: req.url ?? '/',
    headers: req.rawHeaders,
    clientAddress: exchange.remoteAddress,
    scheme: exchange.scheme,
    signal: aborter.signal,
    hashKey:
      upstream.model.type !== 'chash'
        ? undefined
        : hashKeyFor(upstream.model, {
            remoteAddr: exchange.remoteAddress,
            variable: (name) => stringOf(resolveVariable(exchange, name)),
            header: (name) => exchange.headers.get(name),
            cookie: (name) => stringOf(resolveVariable(exchange, `cookie_${name}`)),
            consumerName: consumerOf(exchange)?.consumer.username,
          }),
  })
  if (result.type === 'aborted') {
    res.removeListener('close', onClose)
    res.destroy()
    return
  }
  if (result.type === 'error') {
    logger.error({ route: route.merged.id, code: result.code, status: result.status, upstream_status: result.upstreamStatus, ...errorFields(result.cause) }, errorMessage(result.code, result.cause))
  }
  // APISIX replaces the upstream's Server header with its own.
  if (state.serverHeader !== undefined) result.headers.set('server', state.serverHeader)
  res.writeHead(result.status, [...result.headers.raw])
  if (result.type === 'streamed') {
    // pipe() rather than stream.pipeline(), which makes and aborts an AbortController per call.
    const body = result.body
    await new Promise<void>((resolve) => {
      body.once('error', () => res.destroy())
      res.once('close', () => {
        if (!body.readableEnded) body.destroy()
        resolve()
      })
      body.pipe(res)
    })
    res.removeListener('close', onClose)
    return
  }
  res.removeListener('close', onClose)
  res.end(result.body)
}

function stringOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  return typeof value === 'string' ? value : String(value)
}

/** The error log line for an upstream failure, in APISIX's words where it has some. */
function errorMessage(code: ErrorCode, cause: unknown): string {
  const detail = cause instanceof Error ? `: ${cause.message}` : ''
  switch (code) {
    case ErrorCode.UPSTREAM_NO_NODES:
      return 'no valid upstream node'
    case ErrorCode.UPSTREAM_DNS:
      return `failed to parse domain${detail}`
    case ErrorCode.UPSTREAM_RETRY_TIMEOUT:
      return 'proxy retry timeout'
    case ErrorCode.UPSTREAM_TIMEOUT:
      return `upstream timed out${detail}`
    case ErrorCode.UPSTREAM_BODY_TOO_LARGE:
      return 'upstream response body larger than maxBodySize'
    default:
      return `upstream unreachable${detail}`
  }
}
