// One proxied request (apisix-config.md §5): pick a node, send the request over the upstream's
// keep-alive pool, retry the next node on a connect failure or timeout, and hand back the
// upstream's status, headers and streamed body, or the 502/503/504/500 APISIX answers.
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { HeaderList } from '../../engine/headers.js'
import { apisixErrorPage, errorPageHeaders } from '../error-page.js'
import { ErrorCode } from '../../errors.js'
import { borrowBody, type BorrowedBody } from './borrowed-body.js'
import type { UpstreamNode } from './model.js'
import { upstreamRequestHeaders } from './request-headers.js'
import { clientResponseHeaders } from './response-headers.js'
import type { Upstream } from './upstream.js'

export interface ProxyRequestOptions {
  readonly req: IncomingMessage
  readonly upstream: Upstream
  /** Upstream request-target: path and query. */
  readonly path: string
  /** Defaults to req.method. */
  readonly method?: string
  /** The request headers as plugins left them; a flat [name, value, …] array is taken as is. */
  readonly headers: HeaderList | readonly string[]
  /** Defaults to `req` itself (streamed). A Buffer can be sent again on a retry. */
  readonly body?: Readable | Buffer
  /** $remote_addr; defaults to req.socket.remoteAddress. */
  readonly clientAddress?: string
  /** Scheme of the client connection; defaults to http (https when req.socket is TLS). */
  readonly scheme?: string
  /** $host when the request has no Host header. */
  readonly host?: string
  /** The client left: abort the upstream request. */
  readonly signal?: AbortSignal
  /** The chash key (hashKeyFor); ignored by roundrobin. */
  readonly hashKey?: string
  /** Read the whole upstream body (the response phase needs it), at most this many bytes. */
  readonly readWholeBody?: number
  /** Route-level timeout (seconds), which takes precedence over the upstream's (§5.3). */
  readonly timeout?: { readonly connect?: number; readonly send?: number; readonly read?: number }
}

interface Answered {
  readonly status: number
  readonly headers: HeaderList
  /** The node that answered. */
  readonly node: UpstreamNode
  /** `X-APISIX-Upstream-Status` value: statuses of every try, comma separated. */
  readonly upstreamStatus: string
}

export type ProxyResult =
  | (Answered & { readonly type: 'streamed'; readonly body: Readable })
  | (Answered & { readonly type: 'buffered'; readonly body: Buffer })
  | {
      readonly type: 'error'
      readonly status: 500 | 502 | 503 | 504
      readonly headers: HeaderList
      /** nginx's error page for the status. */
      readonly body: Buffer
      readonly code: ErrorCode
      readonly cause?: unknown
      readonly upstreamStatus: string
    }
  /** The client's signal fired; nothing is left to answer. */
  | { readonly type: 'aborted'; readonly cause?: unknown }

// `connect-timeout` and `connect` happened before a byte was sent: any request may retry.
// `dns`: APISIX resolves a node's name before balancing, and fails the request there.
type Failure = 'connect' | 'connect-timeout' | 'timeout' | 'send-timeout' | 'reset' | 'dns'

// nginx does not resend these once their body went out (proxy_next_upstream's non_idempotent).
const NON_IDEMPOTENT = new Set(['POST', 'PATCH', 'LOCK'])

export async function proxyRequest(options: ProxyRequestOptions): Promise<ProxyResult> {
  const { req, upstream, signal } = options
  const model = upstream.model
  const method = options.method ?? req.method ?? 'GET'
  const headers = options.headers instanceof HeaderList ? options.headers : new HeaderList(options.headers.slice(), true)
  // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3): send
  // none rather than an empty chunked one.
  const hasBody = headers.has('content-length') || headers.has('transfer-encoding')
  const body = options.body ?? (hasBody ? req : undefined)
  const bodyLength = Buffer.isBuffer(body) ? body.length : undefined
  const client = {
    headers,
    clientAddress: options.clientAddress ?? req.socket.remoteAddress ?? '',
    scheme: options.scheme ?? ('encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http'),
    host: options.host ?? '',
    localPort: req.socket.localPort,
  }
  if (model.nodes.length === 0) return failed(503, ErrorCode.UPSTREAM_NO_NODES, [], undefined)
  const read = seconds(options.timeout?.read) ?? model.timeoutMs.read
  const send = seconds(options.timeout?.send) ?? model.timeoutMs.send
  const deadline = model.retryTimeoutMs > 0 ? Date.now() + model.retryTimeoutMs : Infinity
  const tried = new Set<UpstreamNode>()
  const statuses: string[] = []
  let failure: Failure = 'connect'
  let cause: unknown
  for (let attempt = 0; attempt <= model.retries; attempt++) {
    const node = upstream.pick(options.hashKey ?? '', tried)
    if (node === undefined) break
    if (attempt > 0 && Date.now() > deadline) {
      return failed(502, ErrorCode.UPSTREAM_RETRY_TIMEOUT, statuses, cause)
    }
    tried.add(node)
    let borrowed: BorrowedBody | undefined
    // nginx's proxy_send_timeout: the upstream took nothing of the body for `send` ms.
    let sendTimer: AbortController | undefined
    if (body !== undefined && !Buffer.isBuffer(body)) {
      const timer = (sendTimer = new AbortController())
      borrowed = borrowBody(body, { timeout: send, onTimeout: () => timer.abort() })
    }
    try {
      const res = await upstream.dispatcher.request({
        origin: node.origin,
        path: options.path,
        method: method as 'GET',
        headers: upstreamRequestHeaders(model, node, client, bodyLength),
        body: borrowed?.stream ?? (body as Buffer | undefined),
        signal: sendTimer === undefined ? signal : signal === undefined ? sendTimer.signal : AbortSignal.any([signal, sendTimer.signal]),
        headersTimeout: read,
        bodyTimeout: read,
      })
      statuses.push(String(res.statusCode))
      const responseHeaders = clientResponseHeaders(res.headers)
      const upstreamStatus = statuses.join(', ')
      if (res.statusCode >= 500) responseHeaders.set('x-apisix-upstream-status', upstreamStatus)
      const answered = { status: res.statusCode, headers: responseHeaders, node, upstreamStatus }
      if (options.readWholeBody === undefined) return { type: 'streamed', ...answered, body: res.body }
      const whole = await readAll(res.body, options.readWholeBody)
      if (whole === undefined) return failed(502, ErrorCode.UPSTREAM_BODY_TOO_LARGE, statuses, undefined)
      return { type: 'buffered', ...answered, body: whole }
    } catch (err) {
      if (signal?.aborted === true) return { type: 'aborted', cause: err }
      cause = err
      failure = sendTimer?.signal.aborted === true ? 'send-timeout' : classify(err)
      if (failure === 'dns') return model.named ? failed(502, ErrorCode.UPSTREAM_DNS, statuses, err) : failed(500, ErrorCode.UPSTREAM_DNS, statuses, err)
      const timedOut = failure === 'timeout' || failure === 'connect-timeout' || failure === 'send-timeout'
      statuses.push(timedOut ? '504' : '502')
      const bodySent = borrowed?.started() === true
      // A body already (partly) read from the client cannot be sent again; nor, after a
      // timeout or reset, may a non-idempotent request whose body went out.
      if (bodySent) break
      const beforeSending = failure === 'connect' || failure === 'connect-timeout'
      if (!beforeSending && body !== undefined && NON_IDEMPOTENT.has(method)) break
    }
  }
  return failure === 'timeout' || failure === 'connect-timeout' || failure === 'send-timeout'
    ? failed(504, ErrorCode.UPSTREAM_TIMEOUT, statuses, cause)
    : failed(502, ErrorCode.UPSTREAM_UNREACHABLE, statuses, cause)
}

function failed(status: 500 | 502 | 503 | 504, code: ErrorCode, statuses: string[], cause: unknown): ProxyResult {
  const headers = errorPageHeaders()
  const upstreamStatus = statuses.length > 0 ? statuses.join(', ') : String(status)
  // APISIX reports $upstream_status only when an upstream was tried.
  if (statuses.length > 0 || status === 502 || status === 504) headers.set('x-apisix-upstream-status', upstreamStatus)
  return { type: 'error', status, headers, body: apisixErrorPage(status), code, cause, upstreamStatus }
}

function classify(err: unknown): Failure {
  const code = (err as { code?: unknown } | null)?.code
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect-timeout'
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return 'dns'
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'connect'
    default:
      return 'reset'
  }
}

function seconds(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 1000)
}

async function readAll(stream: Readable, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > max) {
      stream.destroy()
      return undefined
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}
