// The one owner of a node:http request for this library: its Exchange (whose engine state
// is typed, never an entry in the plugins' `ctx`), the pipelines whose response phase must
// run, where the request is in its life (one explicit stage), and the response
// interceptor, installed once, in one of its two modes (patch headers only; hold the whole
// response). Every response the library writes itself goes out through frameResponse.
//
// A request may pass several mounts (an app-wide one playing APISIX's global rule, then a
// router's); they share this owner, so later mounts see earlier rewrites, and the response
// phases run once the application answered, in mount order (global first, as APISIX runs
// global rules first).
import { IncomingMessage, type ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { ErrorCode } from '../errors.js'
import { errorFields } from '../logger.js'
import { patchResponseHeaders } from '../engine/apply-actions.js'
import { withErrorPage } from '../engine/error-page.js'
import { Exchange, type ExchangeResponse } from '../engine/exchange.js'
import { HeaderList } from '../engine/headers.js'
import type { Pipeline } from '../engine/pipeline.js'
import type { FinalResponse } from '../engine/plugin.js'
import { hasResponsePhase, runRequestPhases, runResponsePhase } from '../engine/run.js'
import type { ExtPlugin } from '../ext-plugin.js'
import { frameResponse, type FrameOptions } from './frame.js'
import { InterceptMode, ResponseInterceptor, type InterceptorOwner } from './interceptor.js'
import { toIncomingHeaders } from './node-headers.js'
import { readRequestBody, replaceRequestBody, type ParsedBodyHolder } from './request-body.js'

/** Where a request is in its life, as far as this library is concerned. */
export enum RequestStage {
  /** Mounts are running the request phases. */
  Request = 'request',
  /** The application (the upstream) has the request. */
  Application = 'application',
  /** A plugin or a failure answered before the application (response phases see `stopped`). */
  Stopped = 'stopped',
  /** The held response is in the response phase. */
  Responding = 'responding',
  /** The library wrote the final response. */
  Sent = 'sent',
}

// Where a request's owner is kept. On node:http's own request objects, under a symbol no one
// else knows: a WeakMap entry costs more (a hash per request, and ephemerons for every
// collection to trace). Not on a request whose prototype a framework swapped (Express does,
// for every request): a new property on such an object takes V8's slow path, about 4 µs
// here, where the WeakMap entry costs a few hundred ns. A request's prototype is swapped
// before any middleware sees it, so one request always finds its owner in the same place.
const OWNER = Symbol('apisix-ext-plugin request owner')
type Owned = IncomingMessage & { [OWNER]?: RequestOwner }
const ownersOfSwapped = new WeakMap<IncomingMessage, RequestOwner>()

/** The request's owner, created on first use and shared with every mount the request passes. */
export function ownerOf(ext: ExtPlugin, req: IncomingMessage, originalUrl: string, bodyHolder: ParsedBodyHolder | undefined): RequestOwner {
  if (Object.getPrototypeOf(req) === IncomingMessage.prototype) return ((req as Owned)[OWNER] ??= new RequestOwner(ext, req, originalUrl, bodyHolder))
  let owner = ownersOfSwapped.get(req)
  if (owner === undefined) ownersOfSwapped.set(req, (owner = new RequestOwner(ext, req, originalUrl, bodyHolder)))
  return owner
}

/** The owner of a request, if this library has seen it. */
export function existingOwner(req: IncomingMessage): RequestOwner | undefined {
  return Object.getPrototypeOf(req) === IncomingMessage.prototype ? (req as Owned)[OWNER] : ownersOfSwapped.get(req)
}

export class RequestOwner implements InterceptorOwner {
  readonly exchange: Exchange
  stage = RequestStage.Request
  readonly #ext: ExtPlugin
  readonly #req: IncomingMessage
  /** Known from the first mount on (the gateway makes the owner earlier, to match on its exchange). */
  #res: ServerResponse | undefined
  /** Where a body parser that ran before us left the body (see request-body.ts). */
  readonly #bodyHolder: ParsedBodyHolder | undefined
  /** Pipelines with a response phase, in the order their mounts ran. */
  readonly #responsePipelines: Pipeline[] = []
  #interceptor: ResponseInterceptor | undefined
  /** The URL (full, not mount-relative) the application was last given. */
  #url: string
  /** The body replacement already handed to the application. */
  #replacedBody: Buffer | undefined

  constructor(ext: ExtPlugin, req: IncomingMessage, originalUrl: string, bodyHolder: ParsedBodyHolder | undefined) {
    this.#ext = ext
    this.#req = req
    this.#bodyHolder = bodyHolder
    this.#url = originalUrl
    this.exchange = exchangeOf(ext, req, originalUrl, bodyHolder)
  }

  /**
   * Runs `pipeline`'s request phases. Resolves true when the application should go on (with
   * the rewritten request), false when the library answered the client itself.
   */
  async runMount(pipeline: Pipeline, res: ServerResponse): Promise<boolean> {
    this.#res = res
    const { exchange } = this
    const ext = this.#ext
    if (hasResponsePhase(pipeline)) {
      this.#responsePipelines.push(pipeline)
      this.#intercept(InterceptMode.Hold).hold(ext.maxBodySize)
    }
    let stop: FinalResponse | undefined
    try {
      stop = await runRequestPhases(pipeline, exchange, ext.logger)
    } catch (err) {
      ext.logger.error({ method: exchange.method, url: exchange.requestUri, ...errorFields(err) }, `request phases failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      stop = withErrorPage({ status: 500, headers: new HeaderList(), body: undefined })
    }
    if (stop !== undefined) {
      await this.#respondEarly(stop)
      return false
    }
    // The client left while the runner was thinking: nobody is waiting for the application.
    if (this.#req.socket.destroyed) return false
    await this.#applyToRequest()
    if (exchange.responseHeaders.length > 0 && this.#interceptor?.mode !== InterceptMode.Hold) this.#intercept(InterceptMode.PatchHeaders)
    this.stage = RequestStage.Application
    return true
  }

  /**
   * The application (or an adapter) failed: a 500 if nothing was sent yet, else the
   * connection is closed, since the client cannot be told otherwise.
   */
  fail(err: unknown, res: ServerResponse): void {
    this.#res = res
    const { exchange } = this
    this.#ext.logger.error({ method: exchange.method, url: exchange.requestUri, ...errorFields(err) }, `request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    // A held response already ended is the response phase's: it answers.
    if (this.stage === RequestStage.Responding) return
    if (res.headersSent) res.destroy()
    else this.#send({ status: 500, headers: new HeaderList(), body: undefined }, { isHead: this.#isHead })
  }

  // InterceptorOwner

  patchHeaders(res: ServerResponse): void {
    const { exchange } = this
    if (exchange.responseHeaders.length === 0 || exchange.engine.responsePatches === 'applied') return
    exchange.engine.responsePatches = 'applied'
    for (const { name, value, mode } of exchange.responseHeaders) {
      try {
        if (mode === 'set') res.setHeader(name, value)
        else res.appendHeader(name, value)
      } catch (err) {
        this.#ext.logger.error({ header: name }, `dropped invalid response header ${JSON.stringify(name)}: ${(err as Error).message}`)
      }
    }
  }

  held(response: ExchangeResponse): void {
    this.stage = RequestStage.Responding
    // Nothing here may reject unobserved: an unhandled rejection would end the process.
    this.#finish(response).catch((err: unknown) => {
      const { exchange } = this
      this.#ext.logger.error({ phase: 'response', method: exchange.method, url: exchange.requestUri, ...errorFields(err) }, `response phase failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      this.#res?.destroy()
    })
  }

  overflowed(): void {
    const { exchange } = this
    const ext = this.#ext
    ext.logger.warn({ phase: 'response', method: exchange.method, url: exchange.requestUri, code: ErrorCode.BODY_TOO_LARGE }, `response body larger than maxBodySize (${ext.maxBodySize} bytes): response phase skipped`)
  }

  #intercept(mode: InterceptMode): ResponseInterceptor {
    if (this.#interceptor === undefined) this.#interceptor = new ResponseInterceptor(this.#res!, this, mode)
    else this.#interceptor.mode = mode
    return this.#interceptor
  }

  get #isHead(): boolean {
    return this.exchange.method === 'HEAD'
  }

  /** Hands the rewritten request to the application: URL, headers, body. */
  async #applyToRequest(): Promise<void> {
    const { exchange } = this
    const req = this.#req
    const replacement = exchange.body.replacement
    if (replacement !== undefined && replacement !== this.#replacedBody) {
      exchange.headers.set('content-length', String(replacement.length))
      exchange.headers.delete('transfer-encoding')
      await replaceRequestBody(req, replacement, this.#ext.maxBodySize, this.#bodyHolder)
      this.#replacedBody = replacement
    }
    if (exchange.headers.modified) {
      req.headers = toIncomingHeaders(exchange.headers)
      req.rawHeaders = [...exchange.headers.raw]
    }
    const url = exchange.url
    if (url !== this.#url) {
      // Only now, when the URL changed, work out what mount path the framework stripped.
      const prefix = mountPrefix(pathOf(this.#url), pathOf(req.url ?? '/'))
      this.#url = url
      const path = pathOf(url)
      req.url = prefix !== '' && path.startsWith(prefix) ? (path.slice(prefix.length) || '/') + url.slice(path.length) : url
    }
  }

  async #respondEarly(stop: FinalResponse): Promise<void> {
    this.stage = RequestStage.Stopped
    const final = await this.#responsePhases(stop)
    // The rest of an oversized body is not worth reading: close after answering, as nginx does.
    const close = final.status === 413
    if (close) this.#req.resume()
    this.#send(final, { isHead: this.#isHead, close })
  }

  async #finish(held: ExchangeResponse): Promise<void> {
    // A HEAD response has no body to measure: keep the length the application declared,
    // unless the response phase gave it a body of its own.
    const declaredLength = held.headers.get('content-length')
    const headers = held.headers
    const final = await this.#responsePhases(held)
    // Headers nobody changed are still on the response: frame them where they are.
    this.#send(final, { isHead: this.#isHead, declaredLength, headersInPlace: final.headers === headers && !headers.modified })
  }

  /** Runs every registered response phase over `response`; returns the final response. */
  async #responsePhases(response: ExchangeResponse): Promise<ExchangeResponse> {
    const { exchange } = this
    const ext = this.#ext
    exchange.response = response
    const stopped = this.stage === RequestStage.Stopped
    for (const pipeline of this.#responsePipelines) {
      try {
        await runResponsePhase(pipeline, exchange, ext.logger, stopped)
      } catch (err) {
        ext.logger.error({ phase: 'response', method: exchange.method, url: exchange.requestUri, ...errorFields(err) }, `response phase failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      }
    }
    return exchange.response
  }

  /** The library's own answer: patched, framed, and the interceptor out of the way. */
  #send(response: ExchangeResponse, options: FrameOptions): void {
    const { exchange } = this
    if (exchange.responseHeaders.length > 0 && exchange.engine.responsePatches !== 'applied') {
      exchange.engine.responsePatches = 'applied'
      patchResponseHeaders(response.headers, exchange)
    }
    this.stage = RequestStage.Sent
    const onEnd = this.#interceptor?.release()
    const inPlace = options.headersInPlace === true && !response.headers.modified
    frameResponse(this.#res!, response.status, response.headers, response.body, { ...options, headersInPlace: inPlace, ...(onEnd === undefined ? {} : { onEnd }) }, this.#ext.logger)
  }
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
