// Real servers for the e2e scenario table, one factory for every adapter kind: Express 5
// and 4, Koa 3 and 2, plain node:http, Fastify 5 and 4, and Hono (served by @hono/node-server,
// through the fetch adapter). Each server mounts the ext-plugin middleware the
// way an application would (app-wide, on a sub-path or a router, with a body parser before
// or after it) and runs one application whose handler records what it received (method,
// URL, path and query as the framework parsed them, headers, body digest) and answers the
// way the request asks (`x-e2e-respond`): an echo of what it saw, or a specific kind of
// response (write/end chunks, a piped stream, sendFile, Koa bodies, 204, 304, cookies…).
//
// The handlers are written so that every framework puts the same bytes on the wire for
// the same mode: what differs between adapters in a scenario is then the library's doing.
// A Web-standard handler cannot write to a raw response (raw-end, chunks, slow) nor call
// sendFile: Hono answers those modes with the Response that sends the same bytes (a stream
// body with `Transfer-Encoding: chunked`, an fs stream with its Content-Length).
import { createHash } from 'node:crypto'
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseQuery } from 'node:querystring'
import { Readable } from 'node:stream'
import { createRequire } from 'node:module'
import express5 from 'express'
import Koa3 from 'koa'
import fastify5 from 'fastify'
import { Hono, type Context as HonoContext, type MiddlewareHandler } from 'hono'
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import type { Test } from 'tap'
import { extPlugin as expressExtPlugin } from '../../adapters/express.js'
import { extPlugin as fastifyExtPlugin } from '../../adapters/fastify.js'
import { withExtPlugin as withFetchExtPlugin } from '../../adapters/fetch.js'
import { withExtPlugin } from '../../adapters/http.js'
import { extPlugin as koaExtPlugin } from '../../adapters/koa.js'
import type { RouteConfig } from '../../src/config/schemas.js'
import type { ExtPlugin } from '../../src/ext-plugin.js'

// The older majors are installed under aliases (package.json: express4, koa2) and have no
// types of their own; the surface used here is the one the current majors' types describe.
const require = createRequire(import.meta.url)
const express4 = require('express4') as typeof express5
const Koa2 = require('koa2') as typeof Koa3
const fastify4 = require('fastify4') as typeof fastify5

export const ADAPTERS = ['express5', 'express4', 'koa3', 'koa2', 'http', 'fastify5', 'fastify4', 'hono'] as const
export type AdapterKind = (typeof ADAPTERS)[number]

/** Adapters whose application sees a Web `Request` and answers with a `Response`. */
export const WEB_ADAPTERS: ReadonlySet<AdapterKind> = new Set(['hono'])

/** How the application answers; chosen per request with the `x-e2e-respond` header. */
export type ResponseMode =
  | 'echo' // 200 JSON: what the application received (AppRequest)
  | 'text' // the framework's own way to send a string (res.send, ctx.body = string, res.end)
  | 'raw-end' // writeHead + one res.end(text), on the raw response in every framework
  | 'chunks' // several res.write chunks then res.end, no Content-Length (chunked)
  | 'stream' // a Readable piped to the response (ctx.body = stream in Koa)
  | 'file' // express res.sendFile; Koa ctx.body = fs stream; node:http fs stream pipe
  | 'buffer' // a Buffer body (res.send(buf), ctx.body = buf, res.end(buf))
  | 'json' // res.json / ctx.body = object / JSON text
  | 'no-content' // 204
  | 'not-modified' // 304
  | 'cookies' // two Set-Cookie lines and a text body
  | 'slow' // first chunk, then waits for the client to have seen it (gate `client-got-first`)

export const RESPOND_HEADER = 'x-e2e-respond'

/** What each mode sends as its body (HEAD aside). */
export const BODIES = {
  text: 'hello from the application',
  rawEnd: 'plain res.end from the application',
  chunks: ['one,', 'two,', 'three'],
  stream: ['s1,', 's2,', 's3,', 's4'],
  buffer: Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff)),
  json: { hello: 'json', n: [1, 2, 3] },
  cookies: 'cookies set',
  file: Array.from({ length: 400 }, (_, i) => `line ${i} of the file sent with sendFile\n`).join(''),
} as const

/** The bytes the application sends for `mode` (not for echo/slow/204/304). */
export function expectedBody(mode: ResponseMode): Buffer {
  switch (mode) {
    case 'text':
      return Buffer.from(BODIES.text)
    case 'raw-end':
      return Buffer.from(BODIES.rawEnd)
    case 'chunks':
      return Buffer.from(BODIES.chunks.join(''))
    case 'stream':
      return Buffer.from(BODIES.stream.join(''))
    case 'buffer':
      return BODIES.buffer
    case 'json':
      return Buffer.from(JSON.stringify(BODIES.json))
    case 'cookies':
      return Buffer.from(BODIES.cookies)
    case 'file':
      return Buffer.from(BODIES.file)
    default:
      throw new Error(`no fixed body for ${mode}`)
  }
}

export const TEXT_TYPE = 'text/plain; charset=utf-8'
export const JSON_TYPE = 'application/json; charset=utf-8'
export const BINARY_TYPE = 'application/octet-stream'

/** What the application's handler saw. */
export interface AppRequest {
  readonly method: string
  /** The URL with any mount prefix put back (what the client would have had to send). */
  readonly url: string
  /** The raw path the framework routed on, mount prefix included. */
  readonly path: string
  /** Which application route matched: `<mount>/target`, or the fallback. */
  readonly matched: 'target' | 'fallback'
  /** `req.query` / `ctx.query` / querystring of req.url, keys sorted. */
  readonly query: Record<string, unknown>
  /** req.headers, keys sorted. */
  readonly headers: Record<string, string | string[] | undefined>
  readonly rawHeaders: Array<[string, string]>
  readonly body: {
    readonly length: number
    readonly sha256: string
    /** The body as UTF-8 when it is small. */
    readonly text?: string
    /** `parser`: a body parser (mounted before or after the middleware) had it; `stream`: the handler read req. */
    readonly via: 'none' | 'stream' | 'parser'
    /** What the parser made of it (JSON parsers), when small. */
    readonly parsed?: unknown
  }
}

/** One-shot named signals between the test (client side) and the application. */
export class Gates {
  readonly #opened = new Set<string>()
  readonly #waiting = new Map<string, Array<() => void>>()

  open(name: string): void {
    this.#opened.add(name)
    for (const resolve of this.#waiting.get(name) ?? []) resolve()
    this.#waiting.delete(name)
  }

  isOpen(name: string): boolean {
    return this.#opened.has(name)
  }

  /** True when the gate opened within `ms`, false on timeout. */
  wait(name: string, ms: number): Promise<boolean> {
    if (this.#opened.has(name)) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      const list = this.#waiting.get(name) ?? []
      list.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
      this.#waiting.set(name, list)
    })
  }
}

/** How long the application (or the client) waits on a gate before giving up. */
export const GATE_TIMEOUT = 1500

export type ParserType = 'json' | 'raw' | 'text'

export interface ServerSpec {
  readonly ext: ExtPlugin
  /** The route's mount (on `mount` when given, app-wide otherwise). Undefined: no route mount. */
  readonly route?: RouteConfig | undefined
  /** An app-wide mount that runs before the route's (APISIX's global rule). */
  readonly global?: RouteConfig | undefined
  /**
   * Mount the route's middleware and the application's routes under this prefix. Express:
   * a Router or a path (mountStyle); Koa: koa-mount's way (ctx.path stripped for the mounted
   * middleware); node:http has no mounts: a dispatcher by prefix, the path not stripped.
   */
  readonly mount?: string | undefined
  /** Express only: `router` (app.use(prefix, Router with the middleware)) or `path` (app.use(prefix, middleware)). */
  readonly mountStyle?: 'router' | 'path' | undefined
  /**
   * A body parser before (ahead of every ext-plugin mount) or after (between the
   * middleware and the handler). Express: express.json/raw/text; Koa: a small reader that
   * leaves `ctx.request.body` / `ctx.request.rawBody` as koa-bodyparser does; node:http: a
   * reader that leaves `req.body` / `req._body` as body-parser does.
   */
  readonly parser?: { readonly type: ParserType; readonly position: 'before' | 'after' } | undefined
}

export interface E2EServer {
  readonly kind: AdapterKind
  readonly origin: string
  /** What the application received, one entry per handler call. */
  readonly requests: AppRequest[]
  /** Errors the framework reported (Koa's 'error' event, Express's error handler). */
  readonly errors: unknown[]
  readonly gates: Gates
  /** Times the application handler ran. */
  readonly calls: number
  close(): Promise<void>
}

const servers = new Set<Server>()

/** Servers started and not yet closed (checked at the end of each test file). */
export function openServerCount(): number {
  return servers.size
}

let fixtureDir: string | undefined
let fixtureFile: string | undefined

/** The file `file` mode sends; created once per process, removed at exit. */
function fixture(): string {
  if (fixtureFile === undefined) {
    fixtureDir = mkdtempSync(join(tmpdir(), 'e2e-fixture-'))
    fixtureFile = join(fixtureDir, 'fixture.txt')
    writeFileSync(fixtureFile, BODIES.file)
    process.once('exit', () => rmSync(fixtureDir!, { recursive: true, force: true }))
  }
  return fixtureFile
}

/** Starts a server of `kind` on 127.0.0.1:0; it is closed when `t` ends (or by close()). */
export async function startServer(t: Test, kind: AdapterKind, spec: ServerSpec): Promise<E2EServer> {
  const state: AppState = { requests: [], errors: [], gates: new Gates(), mount: spec.mount ?? '' }
  let listener: http.RequestListener | undefined
  let server: Server | undefined
  switch (kind) {
    case 'express5':
      listener = expressApp(express5 as unknown as ExpressModule, spec, state)
      break
    case 'express4':
      listener = expressApp(express4 as unknown as ExpressModule, spec, state)
      break
    case 'koa3':
      listener = koaApp(Koa3 as unknown as KoaClass, spec, state)
      break
    case 'koa2':
      listener = koaApp(Koa2 as unknown as KoaClass, spec, state)
      break
    case 'http':
      listener = httpApp(spec, state)
      break
    case 'fastify5':
      server = await fastifyServer(fastify5 as unknown as FastifyFactory, spec, state)
      break
    case 'fastify4':
      server = await fastifyServer(fastify4 as unknown as FastifyFactory, spec, state)
      break
    case 'hono':
      server = honoServer(spec, state)
      break
  }
  server ??= http.createServer(listener)
  servers.add(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => {
        servers.delete(server)
        resolve()
      })
      server.closeAllConnections()
    }))
  t.teardown(close)
  return {
    kind,
    origin: `http://127.0.0.1:${port}`,
    requests: state.requests,
    errors: state.errors,
    gates: state.gates,
    get calls() {
      return state.requests.length
    },
    close,
  }
}

interface AppState {
  readonly requests: AppRequest[]
  readonly errors: unknown[]
  readonly gates: Gates
  readonly mount: string
}

// ---------------------------------------------------------------------------------------
// What the application saw

interface ParsedRequest extends IncomingMessage {
  body?: unknown
  _body?: boolean
}

function sortKeys<T>(object: Record<string, T> | undefined | null): Record<string, T> {
  const out: Record<string, T> = {}
  if (object === undefined || object === null) return out
  for (const key of Object.keys(object).sort()) out[key] = object[key]!
  return out
}

/**
 * rawHeaders as pairs, ordered by name (stable within a name): the order across names is
 * not specified (the Go runner sends a Rewrite's headers in map order), the order of one
 * name's lines is.
 */
function pairs(raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!])
  return out.sort(([a], [b]) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0))
}

/** Reads the request stream; opens gate `app-got-first` at the first chunk. */
async function readStream(req: IncomingMessage, gates: Gates): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    chunks.push(chunk as Buffer)
    gates.open('app-got-first')
  }
  return Buffer.concat(chunks)
}

/** The bytes a body parser left, in the shape it left them. */
function parsedBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body
  if (typeof body === 'string') return Buffer.from(body)
  if (body === undefined || body === null) return Buffer.alloc(0)
  return Buffer.from(JSON.stringify(body))
}

function bodyInfo(bytes: Buffer, via: 'stream' | 'parser', parsed?: unknown): AppRequest['body'] {
  const info: { -readonly [K in keyof AppRequest['body']]: AppRequest['body'][K] } = {
    length: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    via: bytes.length === 0 ? 'none' : via,
  }
  if (bytes.length <= 2048) info.text = bytes.toString('utf8')
  if (parsed !== undefined && typeof parsed === 'object' && !Buffer.isBuffer(parsed) && bytes.length <= 16384) info.parsed = parsed
  return info
}

/** What `record` reads from a request: IncomingMessage, or the same fields of a Web Request. */
interface RequestView {
  readonly method?: string | undefined
  readonly headers: Record<string, string | string[] | undefined>
  readonly rawHeaders: readonly string[]
}

function record(
  state: AppState,
  req: RequestView,
  url: string,
  path: string,
  query: unknown,
  body: AppRequest['body'],
): AppRequest {
  const seen: AppRequest = {
    method: req.method ?? '',
    url,
    path,
    matched: path === `${state.mount}/target` ? 'target' : 'fallback',
    query: sortKeys(query as Record<string, unknown>),
    headers: sortKeys(req.headers as Record<string, string | string[] | undefined>),
    rawHeaders: pairs(req.rawHeaders),
    body,
  }
  state.requests.push(seen)
  return seen
}

function modeOf(req: IncomingMessage): ResponseMode {
  const mode = req.headers[RESPOND_HEADER]
  return (typeof mode === 'string' ? mode : 'echo') as ResponseMode
}

/** A response sent as one whole body: its type, its bytes and its other headers. */
interface WholeBody {
  readonly type: string
  readonly body: Buffer
  readonly headers: Readonly<Record<string, string | readonly string[]>>
}

/**
 * The modes node:http, Fastify and Hono answer with one whole body, with an explicit
 * Content-Length (Express and Koa use their own ways: res.json, ctx.body = object).
 */
function wholeBody(mode: ResponseMode, seen: AppRequest): WholeBody | undefined {
  const app = { 'X-App': 'a' }
  switch (mode) {
    case 'echo':
      return { type: JSON_TYPE, body: Buffer.from(JSON.stringify(seen)), headers: app }
    case 'text':
      return { type: TEXT_TYPE, body: Buffer.from(BODIES.text), headers: app }
    case 'buffer':
      return { type: BINARY_TYPE, body: BODIES.buffer, headers: app }
    case 'json':
      return { type: JSON_TYPE, body: Buffer.from(JSON.stringify(BODIES.json)), headers: app }
    case 'cookies':
      return { type: TEXT_TYPE, body: Buffer.from(BODIES.cookies), headers: { 'Set-Cookie': ['a=1; Path=/', 'b=2; Path=/'] } }
    default:
      return undefined
  }
}

/** A Readable that sends its first chunk, then waits for the client to have seen it. */
function slowReadable(gates: Gates): Readable {
  let step = 0
  return new Readable({
    read() {
      if (step === 0) {
        step = 1
        this.push('first;')
      } else if (step === 1) {
        step = 2
        void gates.wait('client-got-first', GATE_TIMEOUT).then((seen) => {
          this.push(seen ? 'last' : 'timeout')
          this.push(null)
        })
      }
    },
  })
}

/** writeHead-free raw answers, the same in every framework (the framework steps aside). */
async function rawRespond(mode: ResponseMode, res: ServerResponse, gates: Gates): Promise<void> {
  switch (mode) {
    case 'raw-end':
      res.writeHead(200, { 'Content-Type': TEXT_TYPE, 'X-App': 'a' })
      res.end(BODIES.rawEnd)
      return
    case 'chunks':
      // Koa set 404 as the default status before the application stepped aside.
      res.statusCode = 200
      res.setHeader('Content-Type', TEXT_TYPE)
      res.setHeader('X-App', 'a')
      for (const chunk of BODIES.chunks.slice(0, -1)) res.write(chunk)
      res.end(BODIES.chunks.at(-1))
      return
    case 'slow': {
      res.statusCode = 200
      res.setHeader('Content-Type', TEXT_TYPE)
      res.setHeader('X-App', 'a')
      res.write('first;')
      const seen = await gates.wait('client-got-first', GATE_TIMEOUT)
      res.end(seen ? 'last' : 'timeout')
      return
    }
    default:
      throw new Error(`${mode} is not a raw mode`)
  }
}

// ---------------------------------------------------------------------------------------
// Express 5 and 4

type Handler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void
type ErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

interface ExpressRouterLike {
  use(...args: unknown[]): unknown
  all(path: string, ...handlers: Handler[]): unknown
}

interface ExpressAppLike extends ExpressRouterLike, http.RequestListener {
  set(setting: string, value: unknown): unknown
}

interface ExpressModule {
  (): ExpressAppLike
  Router(): ExpressRouterLike
  json(options: object): Handler
  raw(options: object): Handler
  text(options: object): Handler
}

interface ExpressRequest extends ParsedRequest {
  baseUrl: string
  path: string
  query: unknown
}

interface ExpressResponse extends ServerResponse {
  set(name: string, value: string | string[]): this
  append(name: string, value: string): this
  status(code: number): this
  send(body: unknown): this
  json(body: unknown): this
  sendFile(path: string, options: object, callback: (err?: unknown) => void): void
}

const PARSER_OPTIONS = { type: () => true, limit: '20mb' }

function expressApp(express: ExpressModule, spec: ServerSpec, state: AppState): http.RequestListener {
  const app = express()
  app.set('etag', false)
  const parser = spec.parser === undefined ? undefined : express[spec.parser.type](PARSER_OPTIONS)
  if (parser && spec.parser?.position === 'before') app.use(parser)
  if (spec.global) app.use(expressExtPlugin(spec.ext, spec.global))

  const handler: Handler = (req, res, next) => {
    expressRespond(req as ExpressRequest, res as ExpressResponse, state).catch(next)
  }
  const mountRoutes = (router: ExpressRouterLike, prefix: string): void => {
    if (spec.route) router.use(expressExtPlugin(spec.ext, spec.route))
    if (parser && spec.parser?.position === 'after') router.use(parser)
    router.all(`${prefix}/target`, handler)
    router.use(handler)
  }
  if (spec.mount === undefined) mountRoutes(app, '')
  else if (spec.mountStyle === 'path') {
    if (spec.route) app.use(spec.mount, expressExtPlugin(spec.ext, spec.route))
    if (parser && spec.parser?.position === 'after') app.use(parser)
    app.all(`${spec.mount}/target`, handler)
    app.use(handler)
  } else {
    const router = express.Router()
    mountRoutes(router, '')
    app.use(spec.mount, router)
    app.use(handler)
  }
  const onError: ErrorHandler = (err, _req, res, _next) => {
    state.errors.push(err)
    if (res.headersSent) res.destroy()
    else {
      res.statusCode = 500
      res.end('express error handler')
    }
  }
  app.use(onError)
  return app
}

/**
 * True when a body parser consumed the body: body-parser 1.x (Express 4) marks `req._body`;
 * 2.x (Express 5) only leaves `req.body` on a request whose stream has ended.
 */
function parsedByParser(req: ParsedRequest): boolean {
  return req._body === true || (req.body !== undefined && req.readableEnded)
}

async function expressRespond(req: ExpressRequest, res: ExpressResponse, state: AppState): Promise<void> {
  const mode = modeOf(req)
  const viaParser = parsedByParser(req)
  const bytes = viaParser ? parsedBytes(req.body) : await readStream(req, state.gates)
  const path = req.baseUrl + req.path
  record(state, req, req.baseUrl + req.url, path, req.query, bodyInfo(bytes, viaParser ? 'parser' : 'stream', req.body))
  const seen = state.requests.at(-1)!
  switch (mode) {
    case 'echo':
      res.set('X-App', 'a')
      res.json(seen)
      return
    case 'text':
      res.set('Content-Type', TEXT_TYPE)
      res.set('X-App', 'a')
      res.send(BODIES.text)
      return
    case 'stream':
      res.set('Content-Type', TEXT_TYPE)
      res.set('X-App', 'a')
      Readable.from(BODIES.stream).pipe(res)
      return
    case 'file':
      res.set('Content-Type', TEXT_TYPE)
      res.set('X-App', 'a')
      await new Promise<void>((resolve, reject) =>
        res.sendFile(fixture(), { acceptRanges: false, cacheControl: false, lastModified: false, etag: false }, (err) =>
          err ? reject(err as Error) : resolve(),
        ),
      )
      return
    case 'buffer':
      res.set('Content-Type', BINARY_TYPE)
      res.set('X-App', 'a')
      res.send(BODIES.buffer)
      return
    case 'json':
      res.set('X-App', 'a')
      res.json(BODIES.json)
      return
    case 'no-content':
      res.set('X-App', 'a')
      res.status(204).end()
      return
    case 'not-modified':
      res.set('X-App', 'a')
      res.status(304).end()
      return
    case 'cookies':
      res.append('Set-Cookie', 'a=1; Path=/')
      res.append('Set-Cookie', 'b=2; Path=/')
      res.set('Content-Type', TEXT_TYPE)
      res.send(BODIES.cookies)
      return
    default:
      return rawRespond(mode, res, state.gates)
  }
}

// ---------------------------------------------------------------------------------------
// Koa 3 and 2

interface KoaRequestLike {
  body?: unknown
  rawBody?: string
}

interface KoaContextLike {
  req: IncomingMessage
  res: ServerResponse
  request: KoaRequestLike
  originalUrl: string
  url: string
  path: string
  query: unknown
  method: string
  status: number
  body: unknown
  type: string
  length: number
  respond?: boolean
  set(name: string, value: string | string[]): void
}

type KoaMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<unknown>

interface KoaAppLike {
  silent: boolean
  use(mw: KoaMiddleware): unknown
  on(event: 'error', listener: (err: unknown) => void): unknown
  callback(): http.RequestListener
}

type KoaClass = new () => KoaAppLike

/** A small reader in koa-bodyparser's manner: `ctx.request.body` (parsed) and `ctx.request.rawBody`. */
function koaReader(type: ParserType): KoaMiddleware {
  return async (ctx, next) => {
    const { req } = ctx
    const length = req.headers['content-length']
    if (req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) {
      // co-body (raw-body) refuses a stream that is no longer readable rather than wait.
      if (!req.readable) throw new Error('stream is not readable')
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const bytes = Buffer.concat(chunks)
      if (type === 'raw') ctx.request.body = bytes
      else {
        ctx.request.rawBody = bytes.toString('utf8')
        ctx.request.body = type === 'json' ? JSON.parse(ctx.request.rawBody) : ctx.request.rawBody
      }
    }
    return next()
  }
}

/** koa-mount's behaviour: strip the prefix from ctx.path for the mounted middleware. */
function koaMount(prefix: string, mounted: KoaMiddleware): KoaMiddleware {
  return async (ctx, next) => {
    const previous = ctx.path
    if (previous !== prefix && !previous.startsWith(`${prefix}/`)) return next()
    ctx.path = previous.slice(prefix.length) || '/'
    try {
      return await mounted(ctx, next)
    } finally {
      ctx.path = previous
    }
  }
}

function koaCompose(middleware: KoaMiddleware[]): KoaMiddleware {
  return (ctx, next) => {
    const dispatch = (i: number): Promise<unknown> => {
      const mw = middleware[i]
      return mw === undefined ? next() : mw(ctx, () => dispatch(i + 1))
    }
    return dispatch(0)
  }
}

function koaApp(Koa: KoaClass, spec: ServerSpec, state: AppState): http.RequestListener {
  const app = new Koa()
  app.silent = true
  app.on('error', (err) => state.errors.push(err))
  const reader = spec.parser === undefined ? undefined : koaReader(spec.parser.type)
  if (reader && spec.parser?.position === 'before') app.use(reader)
  if (spec.global) app.use(koaExtPlugin(spec.ext, spec.global) as unknown as KoaMiddleware)
  const chain: KoaMiddleware[] = []
  if (spec.route) chain.push(koaExtPlugin(spec.ext, spec.route) as unknown as KoaMiddleware)
  if (reader && spec.parser?.position === 'after') chain.push(reader)
  const prefix = spec.mount ?? ''
  chain.push((ctx) => koaRespond(ctx, state, prefix))
  if (spec.mount === undefined) app.use(koaCompose(chain))
  else {
    app.use(koaMount(spec.mount, koaCompose(chain)))
    app.use((ctx) => koaRespond(ctx, state, ''))
  }
  return app.callback()
}

async function koaRespond(ctx: KoaContextLike, state: AppState, prefix: string): Promise<void> {
  const mode = modeOf(ctx.req)
  const { request } = ctx
  let bytes: Buffer
  let via: 'stream' | 'parser'
  if (request.rawBody !== undefined) {
    bytes = Buffer.from(request.rawBody)
    via = 'parser'
  } else if (Buffer.isBuffer(request.body)) {
    bytes = request.body
    via = 'parser'
  } else {
    bytes = await readStream(ctx.req, state.gates)
    via = 'stream'
  }
  const seen = record(state, ctx.req, prefix + ctx.url, prefix + ctx.path, ctx.query, bodyInfo(bytes, via, request.body))
  switch (mode) {
    case 'echo':
      ctx.set('X-App', 'a')
      ctx.body = seen
      return
    case 'text':
      ctx.set('X-App', 'a')
      ctx.body = BODIES.text
      ctx.type = TEXT_TYPE
      return
    case 'stream':
      ctx.set('X-App', 'a')
      ctx.body = Readable.from(BODIES.stream)
      ctx.type = TEXT_TYPE
      return
    case 'file': {
      ctx.set('X-App', 'a')
      const file = fixture()
      ctx.body = createReadStream(file)
      ctx.type = TEXT_TYPE
      ctx.length = statSync(file).size
      return
    }
    case 'buffer':
      ctx.set('X-App', 'a')
      ctx.body = BODIES.buffer
      ctx.type = BINARY_TYPE
      return
    case 'json':
      ctx.set('X-App', 'a')
      ctx.body = BODIES.json
      return
    case 'no-content':
      ctx.set('X-App', 'a')
      ctx.status = 204
      return
    case 'not-modified':
      ctx.set('X-App', 'a')
      ctx.status = 304
      return
    case 'cookies':
      ctx.set('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/'])
      ctx.body = BODIES.cookies
      ctx.type = TEXT_TYPE
      return
    case 'slow':
      ctx.set('X-App', 'a')
      ctx.body = slowReadable(state.gates)
      ctx.type = TEXT_TYPE
      return
    default:
      // The application writes to the raw response itself; Koa must stay out of it.
      ctx.respond = false
      return rawRespond(mode, ctx.res, state.gates)
  }
}

// ---------------------------------------------------------------------------------------
// node:http

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/**
 * A reader in body-parser's manner: `req.body` in the parser's shape, `req._body = true`;
 * like raw-body, it fails (500) on a stream that is no longer readable rather than wait.
 */
function httpReader(type: ParserType, next: Listener, state: AppState): Listener {
  return (req, res) => {
    const parsed = req as ParsedRequest
    const length = req.headers['content-length']
    if (parsed._body === true || (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0'))) {
      return next(req, res)
    }
    if (!req.readable) {
      state.errors.push(new Error('stream is not readable'))
      res.statusCode = 500
      res.end('stream is not readable')
      return
    }
    parsed._body = true
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const bytes = Buffer.concat(chunks)
      parsed.body = type === 'raw' ? bytes : type === 'text' ? bytes.toString('utf8') : JSON.parse(bytes.toString('utf8'))
      next(req, res)
    })
  }
}

function httpApp(spec: ServerSpec, state: AppState): http.RequestListener {
  const prefix = spec.mount ?? ''
  const handler: Listener = (req, res) => {
    httpRespond(req, res, state).catch((err: unknown) => {
      state.errors.push(err)
      if (!res.headersSent) {
        res.statusCode = 500
        res.end('http handler error')
      } else res.destroy()
    })
  }
  let app: Listener = spec.parser?.position === 'after' ? httpReader(spec.parser.type, handler, state) : handler
  if (spec.route) app = withExtPlugin(spec.ext, spec.route, app)
  if (spec.mount !== undefined) {
    // node:http has no mounts: a dispatcher by prefix (the path is not stripped).
    const mounted = app
    app = (req, res) => {
      const path = pathOf(req.url ?? '/')
      return path === prefix || path.startsWith(`${prefix}/`) ? mounted(req, res) : handler(req, res)
    }
  }
  if (spec.global) app = withExtPlugin(spec.ext, spec.global, app)
  if (spec.parser?.position === 'before') app = httpReader(spec.parser.type, app, state)
  return app
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

async function httpRespond(req: IncomingMessage, res: ServerResponse, state: AppState): Promise<void> {
  const mode = modeOf(req)
  const parsed = req as ParsedRequest
  const bytes = parsed._body === true ? parsedBytes(parsed.body) : await readStream(req, state.gates)
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const seen = record(state, req, url, pathOf(url), parseQuery(q < 0 ? '' : url.slice(q + 1)), bodyInfo(bytes, parsed._body === true ? 'parser' : 'stream', parsed.body))
  const whole = wholeBody(mode, seen)
  if (whole !== undefined) {
    res.writeHead(200, { ...(whole.headers as Record<string, string | string[]>), 'Content-Type': whole.type, 'Content-Length': String(whole.body.length) })
    res.end(whole.body)
    return
  }
  switch (mode) {
    case 'stream':
      res.setHeader('Content-Type', TEXT_TYPE)
      res.setHeader('X-App', 'a')
      Readable.from(BODIES.stream).pipe(res)
      return
    case 'file': {
      const file = fixture()
      res.setHeader('Content-Type', TEXT_TYPE)
      res.setHeader('X-App', 'a')
      res.setHeader('Content-Length', statSync(file).size)
      if (req.method === 'HEAD') res.end()
      else createReadStream(file).pipe(res)
      return
    }
    case 'no-content':
      res.writeHead(204, { 'X-App': 'a' })
      res.end()
      return
    case 'not-modified':
      res.writeHead(304, { 'X-App': 'a' })
      res.end()
      return
    default:
      return rawRespond(mode, res, state.gates)
  }
}

// ---------------------------------------------------------------------------------------
// Fastify 5 and 4

interface FastifyRequestLike {
  raw: ParsedRequest
  url: string
  query: unknown
  body?: unknown
}

interface FastifyReplyLike {
  raw: ServerResponse
  code(status: number): this
  header(name: string, value: string | string[] | number): this
  send(payload?: unknown): this
  hijack(): this
}

type FastifyRouteHandler = (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>

interface FastifyLike {
  server: Server
  register(plugin: unknown, options?: object): Promise<unknown> | FastifyLike
  all(path: string, handler: FastifyRouteHandler): unknown
  removeAllContentTypeParsers(): void
  addContentTypeParser(type: string, options: object, parser: (req: unknown, body: unknown, done: (err: Error | null, body?: unknown) => void) => void): void
  addContentTypeParser(type: string, parser: (req: unknown, payload: unknown, done: (err: Error | null, body?: unknown) => void) => void): void
  setErrorHandler(handler: (err: unknown, request: FastifyRequestLike, reply: FastifyReplyLike) => void): void
  ready(): Promise<unknown>
}

type FastifyFactory = (options: object) => FastifyLike

/**
 * Fastify always parses bodies itself, after every onRequest hook (extPlugin's included):
 * `before` and `after` are the same here, a catch-all parser of the given type. Without a
 * parser, a catch-all that leaves the stream to the handler.
 */
async function fastifyServer(Fastify: FastifyFactory, spec: ServerSpec, state: AppState): Promise<Server> {
  const app = Fastify({ logger: false, bodyLimit: 20 * 1024 * 1024 })
  app.removeAllContentTypeParsers()
  const parser = spec.parser
  if (parser === undefined) app.addContentTypeParser('*', (_req, _payload, done) => done(null))
  else {
    app.addContentTypeParser('*', { parseAs: parser.type === 'raw' ? 'buffer' : 'string' }, (_req, body, done) => {
      try {
        done(null, parser.type === 'json' ? JSON.parse(body as string) : body)
      } catch (err) {
        done(err as Error)
      }
    })
  }
  app.setErrorHandler((err, _request, reply) => {
    state.errors.push(err)
    reply.code(500).send('fastify error handler')
  })
  if (spec.global) await app.register(fastifyExtPlugin, { ext: spec.ext, route: spec.global })
  const handler: FastifyRouteHandler = (request, reply) => fastifyRespond(request, reply, state, spec.parser !== undefined)
  const routes = async (scope: FastifyLike): Promise<void> => {
    if (spec.route) await scope.register(fastifyExtPlugin, { ext: spec.ext, route: spec.route })
    scope.all('/target', handler)
    scope.all('/*', handler)
  }
  if (spec.mount === undefined) await routes(app)
  else {
    // An encapsulated context: its hooks (the route's extPlugin) run for its routes only.
    await app.register(routes, { prefix: spec.mount })
    app.all('/*', handler)
  }
  await app.ready()
  return app.server
}

async function fastifyRespond(request: FastifyRequestLike, reply: FastifyReplyLike, state: AppState, parsing: boolean): Promise<unknown> {
  const req = request.raw
  const mode = modeOf(req)
  const viaParser = parsing && request.body !== undefined
  const bytes = viaParser ? parsedBytes(request.body) : await readStream(req, state.gates)
  const url = req.url ?? '/'
  const seen = record(state, req, url, pathOf(url), request.query, bodyInfo(bytes, viaParser ? 'parser' : 'stream', request.body))
  const whole = wholeBody(mode, seen)
  if (whole !== undefined) {
    for (const [name, value] of Object.entries(whole.headers)) reply.header(name, value as string | string[])
    return reply.header('Content-Type', whole.type).send(whole.body)
  }
  switch (mode) {
    case 'stream':
      return reply.header('Content-Type', TEXT_TYPE).header('X-App', 'a').send(Readable.from(BODIES.stream))
    case 'file': {
      const file = fixture()
      reply.header('Content-Type', TEXT_TYPE).header('X-App', 'a').header('Content-Length', statSync(file).size)
      return reply.send(req.method === 'HEAD' ? undefined : createReadStream(file))
    }
    case 'no-content':
      return reply.header('X-App', 'a').code(204).send()
    case 'not-modified':
      return reply.header('X-App', 'a').code(304).send()
    default:
      // The application writes to the raw response itself; Fastify must stay out of it.
      reply.hijack()
      return rawRespond(mode, reply.raw, state.gates)
  }
}

// ---------------------------------------------------------------------------------------
// Hono, through the fetch adapter, served by @hono/node-server

type Env = { Bindings: HttpBindings; Variables: { parsed: { bytes: Buffer; value: unknown } } }
type FetchFn = (request: Request, env: HttpBindings) => Response | Promise<Response>

/** A Web handler's body parser: reads the body once and keeps bytes and value for the handler. */
function honoParser(type: ParserType): MiddlewareHandler<Env> {
  return async (c, next) => {
    if (c.req.raw.body !== null) {
      const bytes = Buffer.from(await c.req.raw.arrayBuffer())
      const value = type === 'raw' ? bytes : type === 'text' ? bytes.toString('utf8') : JSON.parse(bytes.toString('utf8'))
      c.set('parsed', { bytes, value })
    }
    await next()
  }
}

/**
 * A parser "before" the middleware, for a Web handler: the body arrives read, in a new Request
 * that carries the bytes (as a server that buffers bodies would hand it over).
 */
function bufferedFirst(next: FetchFn): FetchFn {
  return async (request, env) => {
    if (request.body === null) return next(request, env)
    const body = Buffer.from(await request.arrayBuffer())
    return next(new Request(request.url, { method: request.method, headers: request.headers, body }), env)
  }
}

const remoteAddress = (_request: Request, env: HttpBindings): string | undefined => env.incoming.socket.remoteAddress

function honoServer(spec: ServerSpec, state: AppState): Server {
  const prefix = spec.mount ?? ''
  const app = new Hono<Env>()
  app.onError((err, c) => {
    state.errors.push(err)
    return c.text('hono error handler', 500)
  })
  if (spec.parser !== undefined) app.use('*', honoParser(spec.parser.type))
  app.all(`${prefix}/target`, (c) => honoRespond(c, state))
  app.all('*', (c) => honoRespond(c, state))
  const application: FetchFn = (request, env) => app.fetch(request, env)
  let fetch: FetchFn = spec.route ? withFetchExtPlugin(spec.ext, spec.route, application, { remoteAddress }) : application
  if (spec.mount !== undefined) {
    // As for node:http: a dispatcher by prefix (the path is not stripped).
    const mounted = fetch
    fetch = (request, env) => {
      const path = new URL(request.url).pathname
      return path === prefix || path.startsWith(`${prefix}/`) ? mounted(request, env) : application(request, env)
    }
  }
  if (spec.global) fetch = withFetchExtPlugin(spec.ext, spec.global, fetch, { remoteAddress })
  if (spec.parser?.position === 'before') fetch = bufferedFirst(fetch)
  return createAdaptorServer({ fetch: fetch as (request: Request, env: unknown) => Promise<Response>, hostname: '127.0.0.1' }) as Server
}

/** The request target as sent: path and query, from the absolute URL a Request carries. */
function targetOf(href: string): string {
  const start = href.indexOf('/', href.indexOf('//') + 2)
  return start < 0 ? '/' : href.slice(start)
}

/** Reads a Web body; opens gate `app-got-first` at the first chunk. */
async function readWebStream(request: Request, gates: Gates): Promise<Buffer> {
  if (request.body === null) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(chunk))
    gates.open('app-got-first')
  }
  return Buffer.concat(chunks)
}

/** req.headers and rawHeaders as a Web Request shows them: lower-case names, repeated lines joined. */
function webRequestView(request: Request): RequestView {
  const headers: Record<string, string | string[]> = {}
  const rawHeaders: string[] = []
  for (const [name, value] of request.headers) {
    rawHeaders.push(name, value)
    headers[name] = name === 'set-cookie' ? [...((headers[name] as string[] | undefined) ?? []), value] : value
  }
  return { method: request.method, headers, rawHeaders }
}

/** A body that ends with its last chunk sent as `Transfer-Encoding: chunked`, as res.write/res.end does. */
function chunked(chunks: readonly string[], wait?: () => Promise<string>): ReadableStream<Uint8Array> {
  let i = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < chunks.length) controller.enqueue(Buffer.from(chunks[i++]!))
      else if (wait !== undefined && i++ === chunks.length) controller.enqueue(Buffer.from(await wait()))
      else controller.close()
    },
  })
}

async function honoRespond(c: HonoContext<Env>, state: AppState): Promise<Response> {
  const request = c.req.raw
  const mode = (request.headers.get(RESPOND_HEADER) ?? 'echo') as ResponseMode
  const parsed = c.get('parsed')
  const bytes = parsed !== undefined ? parsed.bytes : await readWebStream(request, state.gates)
  const url = targetOf(request.url)
  const q = url.indexOf('?')
  const seen = record(state, webRequestView(request), url, pathOf(url), parseQuery(q < 0 ? '' : url.slice(q + 1)), bodyInfo(bytes, parsed !== undefined ? 'parser' : 'stream', parsed?.value))
  const whole = wholeBody(mode, seen)
  if (whole !== undefined) {
    const headers = new Headers({ 'Content-Type': whole.type, 'Content-Length': String(whole.body.length) })
    for (const [name, value] of Object.entries(whole.headers)) for (const line of typeof value === 'string' ? [value] : value) headers.append(name, line)
    return new Response(whole.body, { headers })
  }
  const streamed = { 'Content-Type': TEXT_TYPE, 'X-App': 'a', 'Transfer-Encoding': 'chunked' }
  switch (mode) {
    case 'raw-end':
      return new Response(chunked([BODIES.rawEnd]), { headers: streamed })
    case 'chunks':
      return new Response(chunked(BODIES.chunks), { headers: streamed })
    case 'stream':
      return new Response(chunked(BODIES.stream), { headers: streamed })
    case 'slow':
      return new Response(
        chunked(['first;'], async () => ((await state.gates.wait('client-got-first', GATE_TIMEOUT)) ? 'last' : 'timeout')),
        { headers: streamed },
      )
    case 'file': {
      const file = fixture()
      const headers = { 'Content-Type': TEXT_TYPE, 'X-App': 'a', 'Content-Length': String(statSync(file).size) }
      const body = request.method === 'HEAD' ? null : (Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>)
      return new Response(body, { headers })
    }
    case 'no-content':
      return new Response(null, { status: 204, headers: { 'X-App': 'a' } })
    case 'not-modified':
      return new Response(null, { status: 304, headers: { 'X-App': 'a' } })
    default:
      throw new Error(`${mode} is not a mode`)
  }
}
