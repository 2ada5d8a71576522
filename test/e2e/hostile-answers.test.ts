// Hostile runner answers (issue 9, findings 1–5) through Express, Koa and node:http: a
// Stop or response-call status no HTTP response may carry, a 1xx, a Stop with framing
// headers, answers with tens of thousands of headers. Every response is read by undici's
// strict parser, twice over one keep-alive connection, so a length that is not the body's
// desynchronises the second request and fails it.
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { createExtPlugin, type ExtPlugin } from '../../src/ext-plugin.js'
import * as P from '../../src/protocol/index.js'
import { MockRunner } from '../helpers/mock-runner.js'
import { openServerCount, startServer, type AdapterKind } from './servers.js'

t.setTimeout(120_000)

const KINDS: AdapterKind[] = ['express5', 'koa3', 'http']
const unhandled: unknown[] = []
process.on('unhandledRejection', (err) => unhandled.push(err))

const logs: string[] = []
const logger = { debug: () => {}, info: () => {}, warn: (_f: unknown, m: string) => logs.push(m), error: (_f: unknown, m: string) => logs.push(m) }

type Answer = { stop?: P.StopAction; rewrite?: { headers: P.TextEntry[] }; resp?: { status: number; headers: P.TextEntry[] } }
let answer: Answer = {}
const mock = await MockRunner.start({
  httpReqCall: (call) => {
    const { id } = P.decodeHTTPReqCallRequest(call.payload)
    const action = answer.stop ?? (answer.rewrite ? { type: 'rewrite' as const, args: [], respHeaders: [], headers: answer.rewrite.headers } : undefined)
    call.raw(P.encodeHTTPReqCallResponse({ id, action }))
  },
  httpRespCall: (call) => {
    call.raw(P.encodeHTTPRespCallResponse({ id: 0, status: answer.resp?.status ?? 0, headers: answer.resp?.headers ?? [] }))
  },
})
const ext = createExtPlugin({ runner: { socket: mock.path }, logger })
const roomy = createExtPlugin({ runner: { socket: mock.path }, logger, maxHeaders: 50_000 })
t.teardown(async () => {
  await ext.close()
  await roomy.close()
  await mock.close()
})

const conf = [{ name: 'x', value: '{}' }]
const PRE = { plugins: { 'ext-plugin-pre-req': { conf } } }
const PRE_DEGRADE = { plugins: { 'ext-plugin-pre-req': { conf, allow_degradation: true } } }
const POST_RESP = { plugins: { 'ext-plugin-post-resp': { conf } } }

interface Seen {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** Two requests on one connection; both must parse, the second is a plain GET. */
async function twice(t: Test, kind: AdapterKind, route: object, method = 'GET', plugin: ExtPlugin = ext): Promise<Seen> {
  const server = await startServer(t, kind, { ext: plugin, route: route as never })
  const agent = new Agent({ connections: 1, pipelining: 1 })
  t.teardown(() => agent.close())
  const first = await request(`${server.origin}/x`, { method, dispatcher: agent, headers: { 'x-e2e-respond': 'text' } })
  const body = Buffer.from(await first.body.arrayBuffer())
  const length = first.headers['content-length']
  if (length !== undefined && method !== 'HEAD') t.equal(Number(length), body.length, `${kind}: Content-Length is the body's length`)
  t.notOk(length !== undefined && first.headers['transfer-encoding'] !== undefined, `${kind}: not both Content-Length and Transfer-Encoding`)
  const saved = answer
  answer = {}
  const second = await request(`${server.origin}/x`, { dispatcher: agent, headers: { 'x-e2e-respond': 'text' } })
  await second.body.arrayBuffer()
  answer = saved
  t.equal(second.statusCode, 200, `${kind}: the connection still reads the next response`)
  return { status: first.statusCode, headers: first.headers, body }
}

for (const status of [99, 100, 101, 199, 1000, 65535]) {
  t.test(`Stop with status ${status}: a runner failure (503), or degradation`, async (t) => {
    for (const kind of KINDS) {
      answer = { stop: { type: 'stop', status, headers: [{ name: 'content-length', value: '3' }], body: Buffer.from('abc') } }
      const seen = await twice(t, kind, PRE)
      t.equal(seen.status, 503, `${kind}: 503`)
      const degraded = await twice(t, kind, PRE_DEGRADE)
      t.equal(degraded.status, 200, `${kind}: degraded: the application answers`)
      t.equal(degraded.body.toString(), 'hello from the application')
    }
    t.ok(logs.some((m) => m.includes(`status ${status} is not a final status`)), 'logged with the value')
  })

  t.test(`response call with status ${status}: 503, no crash`, async (t) => {
    for (const kind of KINDS) {
      answer = { resp: { status, headers: [] } }
      const seen = await twice(t, kind, POST_RESP)
      t.equal(seen.status, 503, `${kind}: 503`)
    }
  })
}

t.test('Stop with Transfer-Encoding and a wrong Content-Length: framed by the library', async (t) => {
  for (const kind of KINDS) {
    answer = {
      stop: {
        type: 'stop',
        status: 403,
        headers: [
          { name: 'Transfer-Encoding', value: 'chunked' },
          { name: 'Content-Length', value: '3' },
          { name: 'Connection', value: 'upgrade' },
          { name: 'Upgrade', value: 'h2c' },
          { name: 'X-Kept', value: 'yes' },
        ],
        body: Buffer.from('forbidden by the runner'),
      },
    }
    const seen = await twice(t, kind, PRE)
    t.equal(seen.status, 403)
    t.equal(seen.body.toString(), 'forbidden by the runner')
    t.equal(seen.headers['transfer-encoding'], undefined, `${kind}: no Transfer-Encoding`)
    t.equal(seen.headers['upgrade'], undefined, `${kind}: no Upgrade`)
    t.equal(seen.headers['x-kept'], 'yes')
  }
})

t.test('Stop 204 with a body and HEAD on a Stop: no body sent', async (t) => {
  for (const kind of KINDS) {
    answer = { stop: { type: 'stop', status: 204, headers: [], body: Buffer.from('nope') } }
    const seen = await twice(t, kind, PRE)
    t.equal(seen.status, 204)
    t.equal(seen.body.length, 0)
    t.equal(seen.headers['content-length'], undefined, `${kind}: 204 without Content-Length`)
    answer = { stop: { type: 'stop', status: 200, headers: [], body: Buffer.from('four') } }
    const head = await twice(t, kind, PRE, 'HEAD')
    t.equal(head.body.length, 0)
    t.equal(head.headers['content-length'], '4', `${kind}: HEAD keeps the length`)
  }
})

const many = (n: number, prefix: string): P.TextEntry[] => Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, value: String(i) }))

t.test('10 000 headers over maxHeaders (1000): a runner failure, answered at once', async (t) => {
  for (const kind of KINDS) {
    answer = { stop: { type: 'stop', status: 200, headers: many(10_000, 'x-h'), body: undefined } }
    t.equal((await twice(t, kind, PRE)).status, 503, `${kind}: Stop`)
    answer = { rewrite: { headers: many(10_000, 'x-h') } }
    t.equal((await twice(t, kind, PRE)).status, 503, `${kind}: Rewrite headers`)
    answer = { resp: { status: 0, headers: many(10_000, 'x-h') } }
    t.equal((await twice(t, kind, POST_RESP)).status, 503, `${kind}: response call headers`)
  }
  t.ok(logs.some((m) => m.includes('(maxHeaders is 1000)')))
})

t.test('40 000 header changes under a raised maxHeaders: applied (set then delete each)', async (t) => {
  // 20 000 names set, then each deleted: linear work; quadratic took ~20 s per request.
  const sets = many(20_000, 'x-h')
  const changes = [...sets, ...sets.map(({ name }) => ({ name }))]
  for (const kind of KINDS) {
    answer = { stop: { type: 'stop', status: 200, headers: [...changes, { name: 'x-last', value: 'kept' }], body: Buffer.from('ok') } }
    const seen = await twice(t, kind, PRE, 'GET', roomy)
    t.equal(seen.status, 200)
    t.equal(seen.headers['x-last'], 'kept')
    t.equal(seen.headers['x-h-1'], undefined, `${kind}: deleted`)
    answer = { rewrite: { headers: changes } }
    t.equal((await twice(t, kind, PRE, 'GET', roomy)).status, 200, `${kind}: Rewrite`)
  }
})

t.test('no unhandled rejection, nothing leaked', async (t) => {
  t.strictSame(unhandled, [])
  t.equal(openServerCount(), 0)
})
