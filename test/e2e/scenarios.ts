// The e2e scenario table: for each scenario, the route configuration (and how it is
// mounted), the requests, what the client must see (status, headers, body) and what the
// application must have received. adapters.test.ts runs every scenario on every adapter
// kind and also checks that the adapters agree with each other.
//
// `go` scenarios run against the real Go Plugin Runner (test/interop/go-runner, v0.5.0:
// request bodies the runner reads stay ≤ 64 KiB, see its README), the others against the
// scriptable mock runner, a runner that is not running, or the Go runner with a small
// maxBodySize.
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Test } from 'tap'
import type { RouteConfig } from '../../src/config/schemas.js'
import * as P from '../../src/protocol/index.js'
import type { MockCall, MockHandlers, MockRunner } from '../helpers/mock-runner.js'
import {
  BINARY_TYPE,
  BODIES,
  GATE_TIMEOUT,
  JSON_TYPE,
  TEXT_TYPE,
  WEB_ADAPTERS,
  expectedBody,
  type AdapterKind,
  type AppRequest,
  type E2EServer,
  type ResponseMode,
  type ServerSpec,
} from './servers.js'

/**
 * `go`: the Go runner. `go-small`: the same runner through an ExtPlugin whose maxBodySize
 * is SMALL_BODY_LIMIT. `mock`: the mock runner (default call timeout). `mock-timeout`: the
 * mock runner with a short call timeout. `absent`: a socket path where nothing listens.
 */
export type RunnerKind = 'go' | 'go-small' | 'mock' | 'mock-timeout' | 'absent'

export const SMALL_BODY_LIMIT = 1024
/** callTimeout of the `mock-timeout` ExtPlugin. */
export const SHORT_CALL_TIMEOUT = 300

export interface RequestSpec {
  readonly method?: string
  readonly path: string
  /** A list sends that many header lines. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>
  /** A fixed body, or a stream made per request (sent chunked). */
  readonly body?: string | Buffer | ((server: E2EServer) => Readable)
  /** How the application answers (the `x-e2e-respond` header); default `echo`. */
  readonly respond?: ResponseMode
}

/** A string or list is an exact value (a list = that many header lines); null = absent. */
export type HeaderExpectation = string | readonly string[] | null | RegExp

export interface ClientResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: Buffer
}

export interface StepContext {
  readonly kind: AdapterKind
  readonly server: E2EServer
  readonly mock: MockRunner
  /** The request body as sent, when it was a fixed one. */
  readonly sent: Buffer | undefined
}

export interface Step {
  readonly request: RequestSpec
  readonly status: number
  readonly headers?: Readonly<Record<string, HeaderExpectation>>
  readonly body?: string | Buffer | RegExp
  readonly check?: (t: Test, response: ClientResponse, ctx: StepContext) => void
  /** false: the application must not run; a function: it ran exactly once and saw `seen`. */
  readonly app: false | ((t: Test, seen: AppRequest, ctx: StepContext) => void)
  /** HTTPReqCall + HTTPRespCall frames the mock runner must receive during this step. */
  readonly runnerCalls?: number
  /** Reads the response body itself (streaming proofs); default: all of it. */
  readonly read?: (body: AsyncIterable<Buffer>, server: E2EServer) => Promise<Buffer>
  /**
   * The client gives up this many ms after sending (the request must fail on its side);
   * the server then gets `settle` ms before the application-call and error checks. The
   * expected `status` is not checked.
   */
  readonly abort?: { readonly after: number; readonly settle: number }
}

export interface Scenario {
  readonly name: string
  readonly runner: RunnerKind
  /** Installed on the shared mock runner for this scenario (mock runners only). */
  readonly mock?: MockHandlers
  readonly route?: RouteConfig
  readonly global?: RouteConfig
  readonly mount?: string
  readonly mountStyle?: ServerSpec['mountStyle']
  readonly parser?: ServerSpec['parser']
  readonly steps: readonly Step[]
  /** Headers left out of the cross-adapter comparison. */
  readonly ignoreHeaders?: readonly string[]
}

// ---------------------------------------------------------------------------------------
// Builders

type Conf = { name: string; value: string }

export function runnerConf(name: string, value: unknown = {}): Conf {
  return { name, value: typeof value === 'string' ? value : JSON.stringify(value) }
}

type PluginName = 'ext-plugin-pre-req' | 'ext-plugin-post-req' | 'ext-plugin-post-resp'

function plugin(name: PluginName, conf: Conf[], extra: Record<string, unknown> = {}): RouteConfig {
  return { plugins: { [name]: { conf, ...extra } } }
}

const preReq = (conf: Conf | Conf[], extra?: Record<string, unknown>): RouteConfig =>
  plugin('ext-plugin-pre-req', Array.isArray(conf) ? conf : [conf], extra)
const postReq = (conf: Conf | Conf[], extra?: Record<string, unknown>): RouteConfig =>
  plugin('ext-plugin-post-req', Array.isArray(conf) ? conf : [conf], extra)
const postResp = (conf: Conf | Conf[], extra?: Record<string, unknown>): RouteConfig =>
  plugin('ext-plugin-post-resp', Array.isArray(conf) ? conf : [conf], extra)

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Deterministic bytes that are not text. */
function binary(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** The raw header line named `name` (any case), as the application received it. */
function rawValues(seen: AppRequest, name: string): string[] {
  return seen.rawHeaders.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v)
}

/** The lines a request with these lines shows: a Web Request's Headers join them into one. */
function lines(ctx: StepContext, values: string[]): string[] {
  return WEB_ADAPTERS.has(ctx.kind) && values.length > 1 ? [values.join(', ')] : values
}

const nginxPage = (status: number, reason: string): RegExp =>
  new RegExp(`^<html>\\r\\n<head><title>${status} ${reason}</title></head>\\r\\n<body>\\r\\n<center><h1>${status} ${reason}</h1></center>`)

const PAGE_503 = nginxPage(503, 'Service Temporarily Unavailable')
const PAGE_413 = nginxPage(413, 'Request Entity Too Large')

const appRan = (t: Test, seen: AppRequest): void => {
  t.ok(seen, 'the application ran')
}

// ---------------------------------------------------------------------------------------
// Mock runner answers

function reqCallId(call: MockCall): number {
  return P.decodeHTTPReqCallRequest(call.payload).id
}

function rewrite(call: MockCall, fields: Partial<P.RewriteAction>): void {
  call.raw(
    P.encodeHTTPReqCallResponse({
      id: reqCallId(call),
      action: { type: 'rewrite', headers: [], args: [], respHeaders: [], ...fields },
    }),
  )
}

/** Asks for the body (ExtraInfo ReqBody), then rewrites: its digest goes to the application in headers. */
const readBodyThenRewrite: MockHandlers = {
  httpReqCall: async (call) => {
    const body = (await call.ask({ kind: P.Info.ReqBody })) ?? Buffer.alloc(0)
    rewrite(call, {
      headers: [
        { name: 'X-Mock-Body-Sha256', value: sha256(body) },
        { name: 'X-Mock-Body-Length', value: String(body.length) },
      ],
    })
  },
}

const REPLACEMENT_BODY = 'the runner replaced the body'

const replaceBody: MockHandlers = {
  httpReqCall: (call) => rewrite(call, { body: Buffer.from(REPLACEMENT_BODY) }),
}

// ---------------------------------------------------------------------------------------
// Request bodies

const RAW_BODY = binary(40 * 1024)
const TEXT_BODY = 'Grüße, 漢字, emoji 🎉 — '.repeat(300)
const JSON_VALUE = { name: 'e2e', list: Array.from({ length: 40 }, (_, i) => ({ i, s: `item ${i}` })), nested: { ok: true } }
const JSON_BODY = JSON.stringify(JSON_VALUE)
export const BIG_BODY = binary(10 * 1024 * 1024, 7)
const BIG_SHA = sha256(BIG_BODY)

/** The application got the bytes the client sent, and so did the runner (read-body's headers). */
function sameBodyAsRunner(sent: Buffer | string, via: 'stream' | 'parser') {
  const bytes = Buffer.isBuffer(sent) ? sent : Buffer.from(sent)
  return (t: Test, seen: AppRequest): void => {
    t.equal(seen.body.length, bytes.length, 'the application got every byte')
    t.equal(seen.body.sha256, sha256(bytes), 'the application got the bytes the client sent')
    t.equal(seen.headers['x-runner-body-sha256'], sha256(bytes), 'the runner read the same bytes')
    t.equal(seen.headers['x-runner-body-length'], String(bytes.length), 'the runner read the whole body')
    t.equal(seen.body.via, via, `the application read the body through ${via === 'parser' ? 'its body parser' : 'req'}`)
    t.equal(seen.headers['content-length'], String(bytes.length), 'Content-Length unchanged')
  }
}

function bodyScenarios(): Scenario[] {
  const out: Scenario[] = [
    {
      name: 'read-body: the runner reads the body and the application still gets the same bytes (no parser)',
      runner: 'go',
      route: preReq(runnerConf('read-body')),
      steps: [
        {
          request: { method: 'POST', path: '/target', headers: { 'content-type': BINARY_TYPE }, body: RAW_BODY },
          status: 200,
          app: sameBodyAsRunner(RAW_BODY, 'stream'),
        },
      ],
    },
  ]
  const kinds = [
    { type: 'raw', body: RAW_BODY, contentType: BINARY_TYPE },
    { type: 'text', body: TEXT_BODY, contentType: TEXT_TYPE },
    { type: 'json', body: JSON_BODY, contentType: 'application/json' },
  ] as const
  for (const position of ['before', 'after'] as const) {
    for (const { type, body, contentType } of kinds) {
      out.push({
        name: `read-body with a ${type} body parser ${position} the middleware: the same bytes reach the application`,
        runner: 'go',
        route: preReq(runnerConf('read-body')),
        parser: { type, position },
        steps: [
          {
            request: { method: 'POST', path: '/target', headers: { 'content-type': contentType }, body },
            status: 200,
            app: (t, seen) => {
              sameBodyAsRunner(body, 'parser')(t, seen)
              if (type === 'json') t.same(seen.body.parsed, JSON_VALUE, 'the JSON parser parsed the body')
            },
          },
        ],
      })
    }
  }
  for (const parser of [undefined, { type: 'raw', position: 'after' }] as const) {
    out.push({
      name: `a 10 MiB body read by a (mock) runner that then rewrites: every byte reaches the application${parser ? ` (raw parser ${parser.position})` : ''}`,
      runner: 'mock',
      mock: readBodyThenRewrite,
      route: preReq(runnerConf('mock-read-body')),
      parser,
      steps: [
        {
          request: { method: 'POST', path: '/target', headers: { 'content-type': BINARY_TYPE }, body: BIG_BODY },
          status: 200,
          runnerCalls: 1,
          app: (t, seen) => {
            t.equal(seen.body.length, BIG_BODY.length, 'all 10 MiB arrived')
            t.equal(seen.body.sha256, BIG_SHA, 'byte for byte')
            t.equal(seen.headers['x-mock-body-sha256'], BIG_SHA, 'the runner read the same 10 MiB')
            t.equal(seen.headers['x-mock-body-length'], String(BIG_BODY.length))
            t.equal(seen.body.via, parser ? 'parser' : 'stream')
          },
        },
      ],
    })
  }
  for (const parser of [undefined, { type: 'text', position: 'before' }, { type: 'text', position: 'after' }] as const) {
    out.push({
      name: `Rewrite.body (mock runner) replaces the request body the application reads${parser ? ` (text parser ${parser.position})` : ''}`,
      runner: 'mock',
      mock: replaceBody,
      route: preReq(runnerConf('mock-replace-body')),
      parser,
      steps: [
        {
          request: { method: 'POST', path: '/target', headers: { 'content-type': TEXT_TYPE }, body: 'the client sent this body, longer than the new one' },
          status: 200,
          app: (t, seen) => {
            t.equal(seen.body.text, REPLACEMENT_BODY, 'the application reads the replacement')
            t.equal(seen.headers['content-length'], String(Buffer.byteLength(REPLACEMENT_BODY)), 'Content-Length follows the new body')
            t.equal(seen.headers['transfer-encoding'], undefined)
          },
        },
      ],
    })
  }
  out.push(
    {
      name: `a body over maxBodySize (${SMALL_BODY_LIMIT} bytes, Content-Length) that the runner asks for → 413, the application not called`,
      runner: 'go-small',
      route: preReq(runnerConf('read-body')),
      steps: [
        {
          request: { method: 'POST', path: '/target', headers: { 'content-type': BINARY_TYPE }, body: binary(4 * SMALL_BODY_LIMIT) },
          status: 413,
          headers: { 'content-type': 'text/html' },
          body: PAGE_413,
          app: false,
        },
      ],
    },
    {
      name: 'a streamed (chunked) body over maxBodySize that the runner asks for → 413, the application not called',
      runner: 'go-small',
      route: preReq(runnerConf('read-body')),
      steps: [
        {
          request: {
            method: 'POST',
            path: '/target',
            headers: { 'content-type': BINARY_TYPE },
            body: () => Readable.from([binary(SMALL_BODY_LIMIT, 1), binary(SMALL_BODY_LIMIT, 2), binary(SMALL_BODY_LIMIT, 3)]),
          },
          status: 413,
          body: PAGE_413,
          app: false,
        },
      ],
    },
    {
      name: 'a body under maxBodySize still reaches the runner and the application (small limit)',
      runner: 'go-small',
      route: preReq(runnerConf('read-body')),
      steps: [
        {
          request: { method: 'POST', path: '/target', headers: { 'content-type': BINARY_TYPE }, body: binary(SMALL_BODY_LIMIT) },
          status: 200,
          app: sameBodyAsRunner(binary(SMALL_BODY_LIMIT), 'stream'),
        },
      ],
    },
    {
      name: 'a streamed upload with no body-reading plugin is never buffered: the application reads it while the client is still sending',
      runner: 'go',
      route: preReq([runnerConf('noop'), runnerConf('rewrite', { headers: { 'X-Seen': 'runner' } })]),
      steps: [
        {
          request: {
            method: 'PUT',
            path: '/target',
            headers: { 'content-type': BINARY_TYPE },
            // The second chunk is sent only once the application has the first one (or late).
            body: (server) =>
              Readable.from(
                (async function* () {
                  yield Buffer.from('chunk-1;')
                  const seen = await server.gates.wait('app-got-first', GATE_TIMEOUT)
                  yield Buffer.from(seen ? 'chunk-2' : 'chunk-2;late')
                })(),
              ),
          },
          status: 200,
          app: (t, seen) => {
            t.equal(seen.body.text, 'chunk-1;chunk-2', 'the application had the first chunk before the client sent the second')
            t.equal(seen.body.via, 'stream')
            t.equal(seen.headers['transfer-encoding'], 'chunked', 'still the client’s chunked stream')
            t.equal(seen.headers['x-seen'], 'runner', 'the runner was asked first')
          },
        },
      ],
    },
  )
  return out
}

// ---------------------------------------------------------------------------------------
// Response phase

const RUNNER_TYPE = 'text/x-runner'

/** Each response mode of the application, through a response phase that appends '!'. */
const CAPTURED_MODES: ResponseMode[] = ['text', 'raw-end', 'chunks', 'stream', 'file', 'buffer', 'json', 'cookies']

function responseScenarios(): Scenario[] {
  return [
    {
      name: 'post-resp: the runner sets the status, its header list replaces the application’s, and it appends to the body',
      runner: 'go',
      route: postResp(
        runnerConf('resp', { status: 201, headers: { 'X-New': 'n', 'Content-Type': RUNNER_TYPE }, read_body: true, append_body: '!' }),
      ),
      steps: CAPTURED_MODES.map(
        (mode): Step => ({
          request: { path: '/target', respond: mode },
          status: 201,
          headers: {
            'x-new': 'n',
            'content-type': RUNNER_TYPE,
            'x-app': null,
            'set-cookie': null,
            'content-length': String(expectedBody(mode).length + 1),
            'transfer-encoding': null,
          },
          body: Buffer.concat([expectedBody(mode), Buffer.from('!')]),
          app: appRan,
        }),
      ),
    },
    {
      name: 'post-resp after a pre-req Rewrite with resp_headers: both apply (X-Resp survives the runner’s header list)',
      runner: 'go',
      route: {
        plugins: {
          'ext-plugin-pre-req': { conf: [runnerConf('rewrite', { resp_headers: [['X-Resp', 'r']] })] },
          'ext-plugin-post-resp': { conf: [runnerConf('resp', { status: 201, headers: { 'X-New': 'n' }, read_body: true, append_body: '!' })] },
        },
      },
      steps: [
        {
          request: { path: '/target', respond: 'text' },
          status: 201,
          headers: { 'x-new': 'n', 'x-resp': 'r', 'x-app': null, 'content-length': String(BODIES.text.length + 1) },
          body: `${BODIES.text}!`,
          app: appRan,
        },
      ],
    },
    {
      name: 'post-resp inside a router mounted on /api',
      runner: 'go',
      mount: '/api',
      route: postResp(runnerConf('resp', { status: 201, headers: { 'X-New': 'n' }, read_body: true, append_body: '!' })),
      steps: [
        {
          request: { path: '/api/target', respond: 'chunks' },
          status: 201,
          headers: { 'x-new': 'n', 'content-length': String(expectedBody('chunks').length + 1) },
          body: `${BODIES.chunks.join('')}!`,
          app: (t, seen) => t.equal(seen.matched, 'target'),
        },
        {
          request: { path: '/elsewhere', respond: 'chunks' },
          status: 200,
          headers: { 'x-new': null, 'x-app': 'a', 'transfer-encoding': 'chunked' },
          body: BODIES.chunks.join(''),
          app: appRan,
        },
      ],
    },
    {
      name: `post-resp with a response over maxBodySize (${SMALL_BODY_LIMIT} bytes): streamed unchanged, the response phase skipped`,
      runner: 'go-small',
      route: postResp(runnerConf('resp', { status: 201, headers: { 'X-New': 'n' }, read_body: true, append_body: '!' })),
      steps: [
        {
          request: { path: '/target', respond: 'file' },
          status: 200,
          headers: { 'x-new': null, 'x-app': 'a', 'content-type': TEXT_TYPE, 'content-length': String(BODIES.file.length) },
          body: BODIES.file,
          app: appRan,
        },
        {
          request: { path: '/target', respond: 'buffer' },
          status: 200,
          headers: { 'x-new': null, 'x-app': 'a', 'content-length': String(BODIES.buffer.length) },
          body: BODIES.buffer,
          app: appRan,
        },
        {
          request: { path: '/target', respond: 'chunks' },
          status: 201,
          headers: { 'x-new': 'n', 'x-app': null },
          body: `${BODIES.chunks.join('')}!`,
          app: appRan,
        },
      ],
    },
    {
      name: 'post-resp: the runner replaces the body; the application’s headers stay',
      runner: 'go',
      route: postResp(runnerConf('resp', { status: 202, body: 'replaced by the runner' })),
      steps: (['text', 'chunks', 'stream', 'file', 'json'] as const).map(
        (mode): Step => ({
          request: { path: '/target', respond: mode },
          status: 202,
          headers: {
            'content-type': mode === 'json' ? JSON_TYPE : TEXT_TYPE,
            'x-app': 'a',
            'content-length': String('replaced by the runner'.length),
            'transfer-encoding': null,
          },
          body: 'replaced by the runner',
          app: appRan,
        }),
      ),
    },
    {
      name: 'post-resp: status only; the application’s headers (two Set-Cookie lines) and body go out with a correct Content-Length',
      runner: 'go',
      route: postResp(runnerConf('resp', { status: 203 })),
      steps: [
        ...(['text', 'stream', 'chunks', 'buffer'] as const).map(
          (mode): Step => ({
            request: { path: '/target', respond: mode },
            status: 203,
            headers: {
              'content-type': mode === 'buffer' ? BINARY_TYPE : TEXT_TYPE,
              'x-app': 'a',
              'content-length': String(expectedBody(mode).length),
              'transfer-encoding': null,
            },
            body: expectedBody(mode),
            app: appRan,
          }),
        ),
        {
          request: { path: '/target', respond: 'cookies' },
          status: 203,
          headers: { 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'], 'content-length': String(BODIES.cookies.length) },
          body: BODIES.cookies,
          app: appRan,
        },
      ],
    },
    {
      name: 'post-resp on HEAD: no body is sent and Content-Length is the one GET has',
      runner: 'go',
      route: postResp(runnerConf('resp', { status: 203 })),
      steps: (['text', 'file', 'json'] as const).flatMap((mode): Step[] => [
        {
          request: { method: 'GET', path: '/target', respond: mode },
          status: 203,
          headers: { 'content-length': String(expectedBody(mode).length) },
          body: expectedBody(mode),
          app: appRan,
        },
        {
          request: { method: 'HEAD', path: '/target', respond: mode },
          status: 203,
          headers: { 'content-length': String(expectedBody(mode).length), 'x-app': 'a' },
          body: '',
          app: (t, seen) => t.equal(seen.method, 'HEAD'),
        },
      ]),
    },
    {
      name: 'post-resp replacing the headers on HEAD: Content-Length is still the one GET has',
      runner: 'go',
      route: postResp(runnerConf('resp', { status: 201, headers: { 'X-New': 'n' } })),
      steps: [
        {
          request: { method: 'GET', path: '/target', respond: 'text' },
          status: 201,
          headers: { 'x-new': 'n', 'x-app': null, 'content-length': String(BODIES.text.length) },
          body: BODIES.text,
          app: appRan,
        },
        {
          request: { method: 'HEAD', path: '/target', respond: 'text' },
          status: 201,
          headers: { 'x-new': 'n', 'x-app': null, 'content-length': String(BODIES.text.length) },
          body: '',
          app: appRan,
        },
      ],
    },
    {
      name: 'post-resp on HEAD: the runner’s RespBody question finds no body on every adapter (nothing is sent for HEAD)',
      runner: 'mock',
      mock: {
        httpRespCall: async (call) => {
          const body = await call.ask({ kind: P.Info.RespBody })
          call.raw(
            P.encodeHTTPRespCallResponse({
              id: 0,
              status: 0,
              headers: [{ name: 'X-Resp-Body', value: body === undefined ? 'absent' : String(body.length) }],
            }),
          )
        },
      },
      route: postResp(runnerConf('mock-resp-body')),
      steps: (['text', 'json'] as const).flatMap((mode): Step[] => [
        {
          request: { method: 'GET', path: '/target', respond: mode },
          status: 200,
          headers: { 'x-resp-body': String(expectedBody(mode).length) },
          body: expectedBody(mode),
          app: appRan,
        },
        {
          request: { method: 'HEAD', path: '/target', respond: mode },
          status: 200,
          headers: { 'x-resp-body': 'absent' },
          body: '',
          app: appRan,
        },
      ]),
    },
    {
      name: 'post-resp on 204 and 304: no body, no Content-Length on 204, the runner’s headers applied, the connection stays usable',
      runner: 'go',
      route: postResp(runnerConf('resp', { headers: { 'X-New': 'n' } })),
      steps: [
        {
          request: { path: '/target', respond: 'no-content' },
          status: 204,
          headers: { 'x-new': 'n', 'content-length': null, 'transfer-encoding': null },
          body: '',
          app: appRan,
        },
        {
          request: { path: '/target', respond: 'not-modified' },
          status: 304,
          headers: { 'x-new': 'n', 'transfer-encoding': null },
          body: '',
          app: appRan,
        },
        {
          request: { path: '/target', respond: 'text' },
          status: 200,
          headers: { 'x-new': 'n', 'content-length': String(BODIES.text.length) },
          body: BODIES.text,
          app: appRan,
        },
      ],
    },
    {
      name: 'no response-phase plugin: the response is not buffered (the client has the first chunk before the application ends)',
      runner: 'go',
      // A Rewrite with resp_headers hooks the response headers: that alone must not buffer.
      route: preReq([runnerConf('noop'), runnerConf('rewrite', { resp_headers: [['X-Resp', 'r']] })]),
      steps: [
        {
          request: { path: '/target', respond: 'slow' },
          status: 200,
          headers: { 'x-resp': 'r', 'content-type': TEXT_TYPE, 'transfer-encoding': 'chunked' },
          body: 'first;last',
          read: async (body, server) => {
            const chunks: Buffer[] = []
            for await (const chunk of body) {
              chunks.push(chunk)
              server.gates.open('client-got-first')
            }
            return Buffer.concat(chunks)
          },
          app: appRan,
        },
      ],
    },
    {
      // Deliberately not APISIX's quirk (it streams the upstream body under status 503, see
      // README "Behaviour that differs"): a redacting runner that fails must not let the
      // unredacted body out. The failure is answered like every other one.
      name: 'post-resp with a failing runner (fail: panic): 503 with _meta.error_response, never the application’s body',
      runner: 'go',
      route: postResp(runnerConf('fail', { mode: 'panic' }), { _meta: { error_response: 'runner unavailable' } }),
      steps: [
        {
          request: { path: '/target', respond: 'text' },
          status: 503,
          body: 'runner unavailable',
          app: appRan,
        },
      ],
    },
    {
      name: 'post-resp with a failing runner and allow_degradation: the application’s response goes out unchanged',
      runner: 'go',
      route: postResp(runnerConf('fail', { mode: 'panic' }), { allow_degradation: true }),
      steps: [
        {
          request: { path: '/target', respond: 'text' },
          status: 200,
          headers: { 'content-type': TEXT_TYPE, 'content-length': String(BODIES.text.length) },
          body: BODIES.text,
          app: appRan,
        },
      ],
    },
  ]
}

// ---------------------------------------------------------------------------------------
// The table

export const scenarios: readonly Scenario[] = [
  // ---- Stop
  {
    name: 'Stop: status, repeated headers as separate lines, body; the application is not called',
    runner: 'go',
    route: preReq(
      runnerConf('stop', {
        status: 403,
        headers: [['X-Same', 'one'], ['X-Same', 'two'], ['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']],
        body: 'denied by the runner',
      }),
    ),
    steps: [
      {
        request: { path: '/target?x=1' },
        status: 403,
        headers: { 'x-same': ['one', 'two'], 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain', 'content-length': '20', 'x-app': null },
        body: 'denied by the runner',
        app: false,
      },
      {
        request: { method: 'POST', path: '/other', headers: { 'content-type': TEXT_TYPE }, body: 'a body nobody reads' },
        status: 403,
        body: 'denied by the runner',
        app: false,
      },
      {
        request: { method: 'HEAD', path: '/target' },
        status: 403,
        headers: { 'x-same': ['one', 'two'], 'content-length': '20' },
        body: '',
        app: false,
      },
    ],
  },
  {
    name: 'Stop 200 without a body: an empty 200, Content-Length 0',
    runner: 'go',
    route: preReq(runnerConf('stop', { status: 200, headers: [['X-Stop', 'empty']] })),
    steps: [{ request: { path: '/target' }, status: 200, headers: { 'x-stop': 'empty', 'content-length': '0' }, body: '', app: false }],
  },
  {
    name: 'pre-req (rewrite phase) runs before post-req (access phase): post-req sees pre-req’s header',
    runner: 'go',
    route: {
      plugins: {
        'ext-plugin-post-req': { conf: [runnerConf('vars', { names: ['http_x_pre', 'uri', 'arg_a'] })] },
        'ext-plugin-pre-req': { conf: [runnerConf('rewrite', { path: '/target', headers: { 'X-Pre': '1' }, args: { a: 'b' } })] },
      },
    },
    steps: [
      {
        request: { path: '/old' },
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"arg_a":"b","http_x_pre":"1","uri":"/old"}',
        app: false,
      },
    ],
  },
  {
    name: 'Stop from ext-plugin-post-req (access phase)',
    runner: 'go',
    route: postReq(runnerConf('stop', { status: 200, headers: [['X-Post', 'req']], body: 'answered in access' })),
    steps: [{ request: { path: '/target' }, status: 200, headers: { 'x-post': 'req' }, body: 'answered in access', app: false }],
  },
  {
    name: 'Stop with a ≥ 300 status and no body gets the nginx-style error page',
    runner: 'go',
    route: preReq(runnerConf('stop', { status: 401 })),
    steps: [
      {
        request: { path: '/target' },
        status: 401,
        headers: { 'content-type': 'text/html' },
        body: nginxPage(401, 'Unauthorized'),
        app: false,
      },
    ],
  },
  {
    name: 'Stop ≥ 400 with _meta.error_response: the configured body replaces the runner’s',
    runner: 'go',
    route: preReq(runnerConf('stop', { status: 403, body: 'runner body' }), { _meta: { error_response: { message: 'nope' } } }),
    steps: [{ request: { path: '/target' }, status: 403, body: '{"message":"nope"}\n', app: false }],
  },

  // ---- Rewrite
  {
    name: 'Rewrite: the new path and args reach the framework’s router and req.query / ctx.query',
    runner: 'go',
    route: preReq(runnerConf('rewrite', { path: '/target', args: { a: 'b', d: null } })),
    steps: [
      {
        request: { path: '/old?q=a%20b%26c%2F%C3%A9&d=x' },
        status: 200,
        app: (t, seen) => {
          t.same(seen.query, { a: 'b', q: 'a b&c/é' }, 'escaped values survive the re-encoding')
          t.equal(seen.matched, 'target')
        },
      },
      {
        request: { path: '/old?c=foo&d=bar' },
        status: 200,
        app: (t, seen) => {
          t.equal(seen.path, '/target')
          t.equal(seen.matched, 'target', 'the router matched the new path')
          t.same(seen.query, { a: 'b', c: 'foo' }, 'the framework parsed the new args')
          t.equal(seen.url, '/target?c=foo&a=b')
        },
      },
    ],
  },
  {
    name: 'Rewrite: a header set and one deleted, in req.headers and rawHeaders',
    runner: 'go',
    route: preReq(runnerConf('rewrite', { headers: { 'X-Added': 'yes', 'X-Remove': null, 'X-Keep': 'changed' } })),
    steps: [
      {
        request: {
          path: '/target',
          headers: { 'x-remove': 'gone', 'x-keep': 'kept', 'x-untouched': 'u', 'x-multi': ['a', 'b'], cookie: ['c1=1', 'c2=2'] },
        },
        status: 200,
        app: (t, seen, ctx) => {
          t.equal(seen.headers['x-multi'], 'a, b', 'repeated lines folded as Node folds them')
          t.same(rawValues(seen, 'x-multi'), lines(ctx, ['a', 'b']), 'repeated lines kept in rawHeaders (one line in a Web Request)')
          t.equal(seen.headers.cookie, 'c1=1; c2=2', 'Cookie lines folded with "; "')
          t.equal(seen.headers['x-added'], 'yes')
          t.equal(seen.headers['x-remove'], undefined, 'deleted from req.headers')
          t.equal(seen.headers['x-keep'], 'changed')
          t.equal(seen.headers['x-untouched'], 'u')
          t.same(rawValues(seen, 'x-added'), ['yes'], 'in rawHeaders')
          t.same(rawValues(seen, 'x-remove'), [], 'deleted from rawHeaders')
          t.same(rawValues(seen, 'x-keep'), ['changed'], 'replaced in rawHeaders')
          t.same(rawValues(seen, 'x-untouched'), ['u'])
        },
      },
    ],
  },
  {
    name: 'Rewrite: a ? in the new path arrives as %3F and does not start a query',
    runner: 'go',
    route: preReq(runnerConf('rewrite', { path: '/target?x=1' })),
    steps: [
      {
        request: { path: '/old?c=d' },
        status: 200,
        app: (t, seen) => {
          t.equal(seen.path, '/target%3Fx=1')
          t.equal(seen.matched, 'fallback', 'no route matches /target%3Fx=1')
          t.same(seen.query, { c: 'd' }, 'the query is the original one')
          t.equal(seen.url, '/target%3Fx=1?c=d')
        },
      },
    ],
  },
  {
    name: 'Rewrite: only the path changes, the original query (repeated keys included) stays',
    runner: 'go',
    route: preReq(runnerConf('rewrite', { path: '/target' })),
    steps: [
      {
        request: { path: '/old?c=foo&d=bar&d=baz' },
        status: 200,
        app: (t, seen) => {
          t.equal(seen.url, '/target?c=foo&d=bar&d=baz')
          t.equal(seen.matched, 'target')
          t.same(seen.query, { c: 'foo', d: ['bar', 'baz'] })
        },
      },
      {
        request: { path: '/old' },
        status: 200,
        app: (t, seen) => {
          t.equal(seen.url, '/target', 'no trailing ? without args')
          t.same(seen.query, {})
        },
      },
    ],
  },
  {
    name: 'Rewrite: args added to a key become repeated values',
    runner: 'go',
    route: preReq(runnerConf('rewrite', { args_add: [['m', '1'], ['m', '2']] })),
    steps: [
      {
        request: { path: '/target?m=0&k=v' },
        status: 200,
        app: (t, seen) => {
          t.same(seen.query, { k: 'v', m: ['0', '1', '2'] })
          t.equal(seen.path, '/target')
        },
      },
    ],
  },
  {
    name: 'Rewrite: the Host header',
    runner: 'go',
    route: preReq(runnerConf('rewrite', { headers: { Host: 'example.test' } })),
    steps: [
      {
        request: { path: '/target' },
        status: 200,
        app: (t, seen) => {
          t.equal(seen.headers.host, 'example.test')
          t.same(rawValues(seen, 'host'), ['example.test'])
        },
      },
    ],
  },
  {
    name: 'Rewrite: resp_headers reach the application’s response; the excluded names (Content-Type, Server, …) do not override it',
    runner: 'go',
    route: preReq(
      runnerConf('rewrite', {
        resp_headers: [
          ['X-Resp', 'r'],
          ['X-Same', 'one'],
          ['X-Same', 'two'],
          ['Content-Type', 'x/from-runner'],
          ['Server', 'runner'],
          ['Content-Language', 'fr'],
          ['Content-Length', '1'],
          ['Location', '/elsewhere'],
          ['Connection', 'close'],
          ['Transfer-Encoding', 'gzip'],
          ['WWW-Authenticate', 'Basic'],
          ['Content-Encoding', 'gzip'],
          ['Content-Location', '/x'],
        ],
      }),
    ),
    steps: (['text', 'raw-end', 'stream', 'json', 'no-content'] as const).map(
      (mode): Step => ({
        request: { path: '/target', respond: mode },
        status: mode === 'no-content' ? 204 : 200,
        headers: {
          'x-resp': 'r',
          'x-same': ['one', 'two'],
          'x-app': 'a',
          'content-type': mode === 'no-content' ? null : mode === 'json' ? JSON_TYPE : TEXT_TYPE,
          server: null,
          'content-language': null,
          location: null,
          'www-authenticate': null,
          'content-encoding': null,
          'content-location': null,
          // writeHead without a Content-Length commits to chunked before the body is known.
          'transfer-encoding': mode === 'stream' || mode === 'raw-end' ? 'chunked' : null,
        },
        body: mode === 'no-content' ? '' : expectedBody(mode),
        app: appRan,
      }),
    ),
  },

  // ---- Mounts
  ...(['router', 'path'] as const).map(
    (mountStyle): Scenario => ({
      name: `mounted on /api (${mountStyle === 'router' ? 'a router' : 'a sub-path'}): a rewrite still routes inside the mount`,
      runner: 'go',
      route: preReq(runnerConf('rewrite', { path: '/api/target', args: { m: 'x' } })),
      mount: '/api',
      mountStyle,
      steps: [
        {
          request: { path: '/api/old?c=d' },
          status: 200,
          app: (t, seen) => {
            t.equal(seen.path, '/api/target')
            t.equal(seen.matched, 'target', 'the mounted route matched')
            t.equal(seen.url, '/api/target?c=d&m=x')
            t.same(seen.query, { c: 'd', m: 'x' }, 'req.query / ctx.query follow the new args inside the mount')
          },
        },
        {
          request: { path: '/outside?z=1' },
          status: 200,
          app: (t, seen) => {
            t.equal(seen.path, '/outside', 'outside the mount the plugins do not run')
            t.same(seen.query, { z: '1' })
          },
        },
      ],
    }),
  ),
  {
    name: 'app-wide mount + route mount: both run, the app-wide one (global rule) first',
    runner: 'go',
    global: preReq(runnerConf('rewrite', { headers: { 'X-Global': 'g' } })),
    route: preReq(runnerConf('vars', { names: ['http_x_global'] })),
    mount: '/api',
    steps: [
      {
        request: { path: '/api/anything' },
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"http_x_global":"g"}',
        app: false,
      },
    ],
  },
  {
    name: 'app-wide mount + route mount: the global rewrite moves the request into the mount, the route’s rewrite then routes it',
    runner: 'go',
    global: preReq(runnerConf('rewrite', { path: '/api/old', headers: { 'X-Global': 'g' } })),
    route: preReq(runnerConf('rewrite', { path: '/api/target', headers: { 'X-Route': 'r' } })),
    mount: '/api',
    steps: [
      {
        request: { path: '/start?c=d' },
        status: 200,
        app: (t, seen) => {
          t.equal(seen.path, '/api/target')
          t.equal(seen.matched, 'target')
          t.equal(seen.headers['x-global'], 'g')
          t.equal(seen.headers['x-route'], 'r')
          t.same(seen.query, { c: 'd' })
        },
      },
    ],
  },

  // ---- Request bodies
  ...bodyScenarios(),

  // ---- Response phase
  ...responseScenarios(),

  // ---- Failure policy
  {
    name: 'runner failure (fail: panic, the runner closes the connection) → 503 with the nginx-style page',
    runner: 'go',
    route: preReq(runnerConf('fail', { mode: 'panic' })),
    steps: [
      {
        request: { path: '/target' },
        status: 503,
        headers: { 'content-type': 'text/html' },
        body: PAGE_503,
        app: false,
      },
    ],
  },
  {
    name: 'runner failure with _meta.error_response: the configured body, status 503',
    runner: 'go',
    route: preReq(runnerConf('fail', { mode: 'panic' }), { _meta: { error_response: 'the runner is down' } }),
    steps: [{ request: { path: '/target' }, status: 503, body: 'the runner is down', app: false }],
  },
  {
    name: 'runner failure with allow_degradation: the application answers normally',
    runner: 'go',
    route: preReq(runnerConf('fail', { mode: 'panic' }), { allow_degradation: true }),
    steps: [{ request: { path: '/target?q=1' }, status: 200, app: (t, seen) => t.same(seen.query, { q: '1' }) }],
  },
  {
    name: 'mock runner closes the connection mid-call → 503',
    runner: 'mock',
    mock: { httpReqCall: (call) => call.close() },
    route: preReq(runnerConf('any')),
    // No runnerCalls: a call on a reused pooled connection that closes before any reply is
    // sent again once on a fresh connection (src/rpc/client.ts), so the mock sees 1 or 2.
    steps: [{ request: { path: '/target' }, status: 503, body: PAGE_503, app: false }],
  },
  {
    name: `mock runner never answers → 503 after the call timeout (${SHORT_CALL_TIMEOUT} ms)`,
    runner: 'mock-timeout',
    mock: { httpReqCall: () => {} },
    route: preReq(runnerConf('any')),
    steps: [{ request: { path: '/target' }, status: 503, body: PAGE_503, app: false }],
  },
  {
    name: 'mock runner never answers, allow_degradation → the application answers',
    runner: 'mock-timeout',
    mock: { httpReqCall: () => {} },
    route: preReq(runnerConf('any'), { allow_degradation: true }),
    steps: [{ request: { path: '/target' }, status: 200, app: appRan }],
  },
  {
    name: 'mock runner answers RPC_ERROR (service unavailable) → 503 with error_response',
    runner: 'mock',
    mock: { httpReqCall: (call) => call.error(P.ErrCode.SERVICE_UNAVAILABLE) },
    route: preReq(runnerConf('any'), { _meta: { error_response: { error: 'runner' } } }),
    steps: [{ request: { path: '/target' }, status: 503, body: '{"error":"runner"}\n', app: false }],
  },
  {
    name: 'the runner is not running (socket path pointing nowhere) → 503, not a crash',
    runner: 'absent',
    route: preReq(runnerConf('any')),
    steps: [
      { request: { path: '/target' }, status: 503, body: PAGE_503, app: false },
      { request: { method: 'POST', path: '/target', body: 'x' }, status: 503, body: PAGE_503, app: false },
    ],
  },
  {
    name: 'the runner is not running, allow_degradation → the application answers',
    runner: 'absent',
    route: preReq(runnerConf('any'), { allow_degradation: true }),
    steps: [{ request: { path: '/target' }, status: 200, app: appRan }],
  },
  {
    name: 'a method the protocol has no code for (PURGE) → 503; the application not called',
    runner: 'go',
    route: preReq(runnerConf('noop')),
    steps: [
      { request: { method: 'PURGE', path: '/target' }, status: 503, body: PAGE_503, app: false },
      { request: { method: 'GET', path: '/target' }, status: 200, app: appRan },
    ],
  },

  // ---- The client going away
  {
    name: 'the client goes away during a slow runner call (pre-req): no crash, the application is not called',
    runner: 'go',
    route: preReq(runnerConf('slow', { ms: 300 })),
    steps: [
      { request: { path: '/target' }, status: 0, abort: { after: 50, settle: 400 }, app: false },
      { request: { path: '/target' }, status: 200, app: appRan },
    ],
  },
  {
    name: 'the client goes away during a slow response phase: no crash, nothing written to a closed socket',
    runner: 'go',
    route: postResp(runnerConf('slow', { ms: 300 })),
    steps: [
      { request: { path: '/target', respond: 'text' }, status: 0, abort: { after: 50, settle: 400 }, app: appRan },
      { request: { path: '/target', respond: 'text' }, status: 200, body: BODIES.text, app: appRan },
    ],
  },

  // ---- Filters
  {
    name: '_meta.disable: the plugin never runs, the runner is not called',
    runner: 'mock',
    route: {
      plugins: {
        'ext-plugin-pre-req': { conf: [runnerConf('any')], _meta: { disable: true } },
        'ext-plugin-post-req': { conf: [runnerConf('any')] },
      },
    },
    steps: [{ request: { path: '/target' }, status: 200, app: appRan, runnerCalls: 1 }],
  },
  {
    name: '_meta.filter on post_arg_* reads the form body, and the application still gets it',
    runner: 'mock',
    route: preReq(runnerConf('any'), { _meta: { filter: [['post_arg_name', '==', 'x']] } }),
    steps: [
      {
        request: { method: 'POST', path: '/target', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=x&y=1' },
        status: 200,
        runnerCalls: 1,
        app: (t, seen) => t.equal(seen.body.text, 'name=x&y=1', 'the body the filter read reaches the application'),
      },
      {
        request: { method: 'POST', path: '/target', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=z' },
        status: 200,
        runnerCalls: 0,
        app: (t, seen) => t.equal(seen.body.text, 'name=z'),
      },
    ],
  },
  {
    name: '_meta.filter on arg_*: the runner is called only when the rule matches',
    runner: 'mock',
    route: preReq(runnerConf('any'), { _meta: { filter: [['arg_x', '==', '1']] } }),
    steps: [
      { request: { path: '/target?x=1' }, status: 200, app: appRan, runnerCalls: 1 },
      { request: { path: '/target?x=2' }, status: 200, app: appRan, runnerCalls: 0 },
      { request: { path: '/target' }, status: 200, app: appRan, runnerCalls: 0 },
      { request: { path: '/target?y=1&x=1' }, status: 200, app: appRan, runnerCalls: 1 },
    ],
  },
  {
    name: '_meta.filter on http_*: a Stop only when the header matches',
    runner: 'mock',
    mock: {
      httpReqCall: (call) =>
        call.raw(
          P.encodeHTTPReqCallResponse({
            id: reqCallId(call),
            action: { type: 'stop', status: 429, headers: [{ name: 'X-Limited', value: 'yes' }], body: Buffer.from('slow down') },
          }),
        ),
    },
    route: preReq(runnerConf('any'), { _meta: { filter: ['OR', ['http_x_flag', '==', 'on'], ['http_x_other_flag', '~~', '^y']] } }),
    steps: [
      { request: { path: '/target', headers: { 'x-flag': 'on' } }, status: 429, headers: { 'x-limited': 'yes' }, body: 'slow down', app: false, runnerCalls: 1 },
      { request: { path: '/target', headers: { 'x-flag': 'off' } }, status: 200, app: appRan, runnerCalls: 0 },
      { request: { path: '/target', headers: { 'X-Other-Flag': 'yes' } }, status: 429, body: 'slow down', app: false, runnerCalls: 1 },
      { request: { path: '/target' }, status: 200, app: appRan, runnerCalls: 0 },
    ],
  },
]
