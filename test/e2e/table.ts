// Runs every scenario of the e2e table (scenarios.ts) on the adapter kinds a test file names
// (servers.ts), with real servers and real HTTP (undici): adapters.test.ts (Express, Koa,
// node:http) and adapters-fastify-hono.test.ts (Fastify, Hono), split so that each file stays
// short on a busy machine. The first kind is the reference the others are compared with.
// Go scenarios share one Go runner process; the rest share one mock runner. Each scenario ends by checking that the adapters agreed: same
// status, headers that matter and body, and the same request seen by the application.
//
// The adapters of a scenario run side by side (most of the time goes into waiting on
// timeouts and slow runners), then each one's results are checked in its own subtest.
// Scenarios that count calls at the shared mock runner run the adapters one at a time.
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { Agent, request } from 'undici'
import { createExtPlugin, type ExtPlugin } from '../../src/ext-plugin.js'
import * as P from '../../src/protocol/index.js'
import { goRunner, whenBuilt } from '../helpers/interop.js'
import { MockRunner } from '../helpers/mock-runner.js'
import {
  SHORT_CALL_TIMEOUT,
  SMALL_BODY_LIMIT,
  scenarios,
  sha256,
  type ClientResponse,
  type HeaderExpectation,
  type RunnerKind,
  type Scenario,
  type Step,
  type StepContext,
} from './scenarios.js'
import {
  RESPOND_HEADER,
  WEB_ADAPTERS,
  openServerCount,
  startServer,
  type AdapterKind,
  type AppRequest,
  type E2EServer,
} from './servers.js'

const logs: string[] = []
const keep = (level: string) => (_fields: unknown, message: string) => {
  logs.push(`${level}: ${message}`)
  if (process.env.E2E_LOG === '1') console.error(`${level}: ${message}`)
}
const logger = { debug: () => {}, info: () => {}, warn: keep('warn'), error: keep('error') }

// ---- shared runners ------------------------------------------------------------------

const goBuilt = whenBuilt(goRunner).skip === false
let mock: MockRunner
const exts = new Map<RunnerKind, ExtPlugin>()
let go: ExtPlugin | undefined
let goPid: number | undefined

async function startRunners(): Promise<void> {
  mock = await MockRunner.start()
  exts.set('mock', createExtPlugin({ runner: { socket: mock.path }, logger }))
  exts.set('mock-timeout', createExtPlugin({ runner: { socket: mock.path }, callTimeout: SHORT_CALL_TIMEOUT, logger }))
  exts.set('absent', createExtPlugin({ runner: { socket: join(tmpdir(), 'e2e-no-such-dir', 'runner.sock') }, connectTimeout: 200, logger }))
  if (goBuilt) {
    go = createExtPlugin({ runner: { cmd: goRunner.cmd, env: goRunner.env }, logger })
    await go.ready()
    goPid = go.process?.pid
    exts.set('go', go)
    // The same runner process, through an ExtPlugin that holds small bodies only.
    exts.set('go-small', createExtPlugin({ runner: { socket: go.process!.socketPath }, maxBodySize: SMALL_BODY_LIMIT, logger }))
  }
}

const agent = new Agent({ keepAliveTimeout: 2000, keepAliveMaxTimeout: 2000 })

// ---- running a scenario on one adapter -------------------------------------------------

interface StepRun {
  readonly step: Step
  readonly sent: Buffer | undefined
  /** The client's view; undefined when the request failed or was aborted. */
  readonly response?: ClientResponse
  /** What became of an aborted request (`AbortError` when it failed as expected). */
  readonly aborted?: string
  /** The request failed on the client side (socket error, timeout…). */
  readonly failure?: unknown
  /** What the application received during this step. */
  readonly seen: readonly AppRequest[]
  /** HTTPReqCall + HTTPRespCall frames the mock runner received during this step. */
  readonly frames: number
  /** Errors the framework reported during this step. */
  readonly errors: readonly unknown[]
}

interface AdapterRun {
  readonly server?: E2EServer
  readonly steps: StepRun[]
  readonly failure?: unknown
}

function runnerFrames(): number {
  return mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL) + mock.countOf(P.MessageType.RPC_HTTP_RESP_CALL)
}

async function sendStep(step: Step, server: E2EServer): Promise<StepRun> {
  const callsBefore = server.calls
  const errorsBefore = server.errors.length
  const framesBefore = runnerFrames()
  const { method = 'GET', path, headers = {}, body, respond } = step.request
  const requestHeaders: Record<string, string | string[]> = { ...(headers as Record<string, string | string[]>) }
  if (respond !== undefined) requestHeaders[RESPOND_HEADER] = respond
  let sent: Buffer | undefined
  let payload: Buffer | NodeJS.ReadableStream | undefined
  if (typeof body === 'function') payload = body(server)
  else if (body !== undefined) payload = sent = Buffer.from(body)

  const controller = new AbortController()
  const timer = step.abort === undefined ? undefined : setTimeout(() => controller.abort(), step.abort.after)
  let response: ClientResponse | undefined
  let aborted: string | undefined
  let failure: unknown
  try {
    const res = await request(`${server.origin}${path}`, {
      method,
      headers: requestHeaders,
      body: payload as Buffer | undefined,
      dispatcher: agent,
      signal: controller.signal,
      // A hang is a failure of its own, not a reason to lose the rest of the file.
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    })
    const responseBody = step.read ? await step.read(res.body as AsyncIterable<Buffer>, server) : Buffer.from(await res.body.arrayBuffer())
    response = { status: res.statusCode, headers: res.headers, body: responseBody }
  } catch (err) {
    if (step.abort !== undefined) aborted = (err as Error).name
    else failure = err
  } finally {
    clearTimeout(timer)
  }
  if (step.abort !== undefined) {
    if (response !== undefined) aborted = `answered ${response.status} before the client gave up`
    // Give the server the time to finish what it was doing when the client left.
    await new Promise((resolve) => setTimeout(resolve, step.abort!.settle))
  }
  return {
    step,
    sent,
    response: step.abort === undefined ? response : undefined,
    aborted,
    failure,
    seen: server.requests.slice(callsBefore),
    frames: runnerFrames() - framesBefore,
    errors: server.errors.slice(errorsBefore),
  }
}

async function runAdapter(t: Test, kind: AdapterKind, scenario: Scenario, ext: ExtPlugin): Promise<AdapterRun> {
  let server: E2EServer | undefined
  const steps: StepRun[] = []
  try {
    server = await startServer(t, kind, {
      ext,
      route: scenario.route,
      global: scenario.global,
      mount: scenario.mount,
      mountStyle: scenario.mountStyle,
      parser: scenario.parser,
    })
    for (const step of scenario.steps) steps.push(await sendStep(step, server))
    return { server, steps }
  } catch (err) {
    return { server, steps, failure: err }
  } finally {
    await server?.close()
  }
}

// ---- checks ------------------------------------------------------------------------------

function checkHeader(t: Test, kind: AdapterKind, headers: ClientResponse['headers'], name: string, expected: HeaderExpectation): void {
  const actual = headers[name.toLowerCase()]
  // A Web Response has one line per name but Set-Cookie (see webView).
  if (Array.isArray(expected) && WEB_ADAPTERS.has(kind) && name.toLowerCase() !== 'set-cookie') t.equal(actual, expected.join(', '), `${name} header: one line`)
  else if (expected === null) t.equal(actual, undefined, `no ${name} header`)
  else if (expected instanceof RegExp) t.match(actual, expected, `${name} header`)
  else if (typeof expected === 'string') t.equal(actual, expected, `${name} header`)
  else t.same(actual, expected, `${name} header: ${expected.length} lines`)
}

function checkBody(t: Test, body: Buffer, expected: string | Buffer | RegExp): void {
  if (expected instanceof RegExp) t.match(body.toString('latin1'), expected, 'body')
  else if (typeof expected === 'string') t.equal(body.toString('utf8'), expected, 'body')
  else {
    t.equal(body.length, expected.length, 'body length')
    t.ok(body.equals(expected), 'body bytes')
  }
}

function checkStep(t: Test, run: StepRun, server: E2EServer, countsFrames: boolean): void {
  const { step } = run
  const method = step.request.method ?? 'GET'
  const ctx: StepContext = { kind: server.kind, server, mock, sent: run.sent }
  if (run.failure !== undefined) {
    t.fail(`the request failed: ${String(run.failure)}`)
    return
  }
  if (step.abort !== undefined) t.equal(run.aborted, 'AbortError', 'the client gave up before any answer')
  const response = run.response
  if (response !== undefined) {
    t.equal(response.status, step.status, 'status')
    for (const [name, expected] of Object.entries(step.headers ?? {})) checkHeader(t, server.kind, response.headers, name, expected)
    if (step.body !== undefined) checkBody(t, response.body, step.body)
    // Framing: what the client got must be self-consistent whatever the expectations say.
    const length = response.headers['content-length']
    const chunked = response.headers['transfer-encoding']
    t.notOk(length !== undefined && chunked !== undefined, 'not both Content-Length and Transfer-Encoding')
    if (method !== 'HEAD' && length !== undefined) t.equal(Number(length), response.body.length, 'Content-Length is the body length')
    if (method === 'HEAD' || response.status === 204 || response.status === 304) t.equal(response.body.length, 0, 'no body')
    if (response.status === 204) t.equal(length, undefined, 'no Content-Length on 204')
    step.check?.(t, response, ctx)
  }
  if (step.app === false) t.equal(run.seen.length, 0, 'the application handler was not called')
  else {
    t.equal(run.seen.length, 1, 'the application handler was called once')
    if (run.seen[0] !== undefined) step.app(t, run.seen[0], ctx)
  }
  if (step.runnerCalls !== undefined && countsFrames) t.equal(run.frames, step.runnerCalls, 'calls at the runner')
  t.same(run.errors.map(String), [], 'no errors in the framework')
}

// ---- snapshots for the cross-adapter comparison ----------------------------------------

const IGNORED_HEADERS = new Set(['date', 'connection', 'keep-alive', 'etag', 'x-powered-by'])

interface StepSnapshot {
  readonly status: number | string
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  readonly app: unknown
}

const normalizePorts = (text: string): string => text.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')

function snapshotOf(run: StepRun, ignore: readonly string[]): StepSnapshot {
  const app = run.seen.map((seen) => JSON.parse(normalizePorts(JSON.stringify(seen))) as unknown)
  const response = run.response
  if (response === undefined) return { status: run.aborted ?? String(run.failure), headers: {}, body: '', app }
  const headers: Record<string, string | string[] | undefined> = {}
  for (const name of Object.keys(response.headers).sort()) {
    if (IGNORED_HEADERS.has(name) || ignore.includes(name)) continue
    headers[name] = response.headers[name]
  }
  const body =
    response.body.length > 8192
      ? `sha256:${sha256(response.body)} (${response.body.length} bytes)`
      : normalizePorts(response.body.toString('latin1'))
  return { status: response.status, headers, body, app }
}

/**
 * A comparison with a Web-standard application (Hono on @hono/node-server) on what both sides
 * can express: `Headers` (a Request's and a Response's) have lower-case names and one line
 * per name, repeated lines joined with ", " (Cookie with "; "; Set-Cookie lines kept apart),
 * which RFC 9110 §5.3 makes the same field; and @hono/node-server types a body that has no
 * Content-Type `text/plain; charset=UTF-8` itself. Echoed requests (bodies) are folded alike.
 */
function webView(steps: readonly StepSnapshot[]): StepSnapshot[] {
  return steps.map((step) => {
    const headers: Record<string, string | string[] | undefined> = {}
    for (const [name, value] of Object.entries(step.headers)) {
      if (name === 'content-type' && value === 'text/plain; charset=UTF-8') continue
      headers[name] = Array.isArray(value) && name !== 'set-cookie' ? value.join(', ') : value
    }
    let body = step.body
    const echoed = parseEcho(body)
    if (echoed !== undefined) {
      body = JSON.stringify(foldSeen(echoed))
      delete headers['content-length']
    }
    const app = (step.app as AppRequest[]).map(foldSeen)
    return { status: step.status, headers, body, app }
  })
}

function parseEcho(body: string): AppRequest | undefined {
  if (!body.startsWith('{"method"')) return undefined
  try {
    return JSON.parse(body) as AppRequest
  } catch {
    return undefined
  }
}

function foldSeen(seen: AppRequest): AppRequest {
  const folded: Array<[string, string]> = []
  for (const [rawName, value] of seen.rawHeaders) {
    const name = rawName.toLowerCase()
    const last = folded.at(-1)
    if (last !== undefined && last[0] === name && name !== 'set-cookie') last[1] += `${name === 'cookie' ? '; ' : ', '}${value}`
    else folded.push([name, value])
  }
  return { ...seen, rawHeaders: folded }
}

// ---- the table ------------------------------------------------------------------------

/** The whole table on `adapters` (the first is the reference), as subtests of `t`. */
export async function runTable(t: Test, adapters: readonly [AdapterKind, ...AdapterKind[]]): Promise<void> {
  await startRunners()
  for (const scenario of scenarios) {
    const needsGo = scenario.runner === 'go' || scenario.runner === 'go-small'
    await t.test(scenario.name, needsGo ? whenBuilt(goRunner) : {}, async (t) => {
      const ext = exts.get(scenario.runner)!
      mock.handlers = scenario.mock ?? {}
      t.teardown(() => {
        mock.handlers = {}
      })
      // Counting calls at the shared mock runner needs the adapters one after the other.
      const serial = scenario.steps.some((step) => step.runnerCalls !== undefined)
      const runs = new Map<AdapterKind, AdapterRun>()
      if (serial) for (const kind of adapters) runs.set(kind, await runAdapter(t, kind, scenario, ext))
      else {
        const all = await Promise.all(adapters.map((kind) => runAdapter(t, kind, scenario, ext)))
        adapters.forEach((kind, i) => runs.set(kind, all[i]!))
      }

      for (const kind of adapters) {
        await t.test(kind, async (t) => {
          const run = runs.get(kind)!
          if (run.failure !== undefined || run.server === undefined) {
            t.fail(`the scenario could not run: ${String(run.failure)}`)
            return
          }
          for (const [i, stepRun] of run.steps.entries()) {
            const { request: r } = stepRun.step
            const label = `${r.method ?? 'GET'} ${r.path}${r.respond ? ` (${r.respond})` : ''}`
            await t.test(`step ${i + 1}: ${label}`, async (t) => checkStep(t, stepRun, run.server!, serial))
          }
        })
      }

      await t.test('every adapter behaves the same', async (t) => {
        const snapshot = (kind: AdapterKind) => runs.get(kind)!.steps.map((run) => snapshotOf(run, scenario.ignoreHeaders ?? []))
        const [first, ...rest] = adapters
        const reference = snapshot(first)
        for (const kind of rest) {
          if (WEB_ADAPTERS.has(kind)) t.same(webView(snapshot(kind)), webView(reference), `${kind} ≡ ${first} (as Web Headers show them)`)
          else t.same(snapshot(kind), reference, `${kind} ≡ ${first}`)
        }
      })
    })
  }

  await t.test('nothing leaked', async (t) => {
    await Promise.all([...exts.values()].map((ext) => ext.close()))
    await agent.close()
    t.equal(openServerCount(), 0, 'every server closed')
    // Give the mock runner a turn to see the clients' sockets close.
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.equal(mock.openConnections, 0, 'no runner connection left open')
    await mock.close()
    if (go !== undefined) {
      t.equal(go.process!.spawns, 1, 'the Go runner never had to be respawned')
      t.equal(go.process!.pid, undefined, 'the Go runner stopped')
      if (goPid !== undefined) t.throws(() => process.kill(goPid!, 0), 'no Go runner process left')
    }
  })
}
