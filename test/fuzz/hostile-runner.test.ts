// A hostile runner, fuzzed (issue 9, item 8): valid answers mutated at random, seeded so a
// failure replays with FUZZ_SEED=<seed>. 20 000 request-phase and 10 000 response-phase
// answers go through the node:http adapter over many keep-alive connections, each read by
// undici's strict parser. Asserted: no crash and no unhandled rejection or uncaught
// exception; every response is 503 or a status 200–599 whose body matches its length; no
// request ever sees another request's tag; no client or runner connection is left open.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Agent, request } from 'undici'
import { withExtPlugin } from '../../adapters/http.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import * as P from '../../src/protocol/index.js'
import { MockRunner, type MockCall } from '../helpers/mock-runner.js'

t.setTimeout(180_000)

const REQ_ANSWERS = 20_000
const RESP_ANSWERS = 10_000
const CONCURRENCY = 64
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)
t.comment(`hostile-runner seed ${seed} (replay: FUZZ_SEED=${seed})`)

// mulberry32: small, fast, and the same sequence for the same seed everywhere.
function prng(s: number): () => number {
  let a = s >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}
const rand = prng(seed)
const int = (n: number) => Math.floor(rand() * n)
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!

const faults: unknown[] = []
const onFault = (err: unknown) => faults.push(err)
process.on('unhandledRejection', onFault)
process.on('uncaughtException', onFault)
t.teardown(() => {
  process.off('unhandledRejection', onFault)
  process.off('uncaughtException', onFault)
})

const ODD_STATUSES = [0, 1, 99, 100, 101, 103, 199, 200, 204, 304, 599, 600, 1000, 65535]
const FRAMING = ['transfer-encoding', 'content-length', 'connection', 'keep-alive', 'upgrade', 'trailer', 'te', 'proxy-connection']
const ODD_PATHS = ['', '/', '//x', '/../../etc/passwd', '/a b', '/%00', 'no-slash', '/x?y=1', '/\r\nx: y', '/' + 'p'.repeat(5000)]

/** Headers a hostile runner might send: framing ones, duplicates, huge values, many of them. */
function oddHeaders(): P.TextEntry[] {
  const out: P.TextEntry[] = []
  const n = pick([0, 1, 3, 10, 200, 1500])
  for (let i = 0; i < n; i++) {
    switch (int(6)) {
      case 0:
        out.push({ name: pick(FRAMING), value: pick(['chunked', '0', '3', '99999', 'close', 'keep-alive', 'h2c', 'gzip, chunked']) })
        break
      case 1:
        out.push({ name: 'x-dup', value: String(i) })
        break
      case 2:
        out.push({ name: 'x-big', value: 'v'.repeat(pick([1, 100, 9000])) })
        break
      case 3:
        out.push({ name: pick(['', ' ', 'bad name', 'x:y', 'x\r\ny', '\u00ff']), value: 'v' })
        break
      case 4:
        out.push({ name: 'x-bad-value', value: pick(['a\r\nb', '\u0000', '\u00ff\u00fe', '']) })
        break
      default:
        out.push({ name: `x-h${i}`, value: 'v' })
    }
  }
  return out
}

/** A frame that is not a whole valid answer: truncated, garbage, or an unexpected type. */
function brokenFrame(valid: Buffer): Buffer {
  switch (int(5)) {
    case 0:
      return valid.subarray(0, 1 + int(valid.length - 1))
    case 1:
      return Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)))
    case 2:
      return P.encodeFrame(pick([0, 5, 6, 7, 200, 255]), Buffer.from('garbage'))
    case 3: {
      // A header announcing far more bytes than follow.
      const b = Buffer.from(valid)
      b.writeUIntBE(0xffffff, 1, 3)
      return b
    }
    default:
      return P.encodeFrame(valid[0]!, Buffer.from(Array.from({ length: int(40) }, () => int(256))))
  }
}

const stats = { reqAnswers: 0, respAnswers: 0 }
const tagOf = (headers: readonly P.DecodedTextEntry[]) => headers.find((h) => h.name === 'x-fuzz-tag')?.value ?? ''

/** Sends the answer `answer(id)` mutated one way or another; the tag rides only on `id`'s own answer. */
async function hostile(call: MockCall, id: number, valid: (replyId: number) => Buffer, mutated: () => Buffer): Promise<void> {
  const roll = int(100)
  if (roll < 30) return call.raw(valid(id))
  if (roll < 55) return call.raw(mutated())
  if (roll < 62) return call.raw(valid(pick([id + 1, id - 1, 0x7fffffff, 0xffffffff, 1 + int(1000)])))
  if (roll < 68) return call.raw(brokenFrame(valid(id)))
  if (roll < 73) return call.error(pick([P.ErrCode.BAD_REQUEST, P.ErrCode.SERVICE_UNAVAILABLE, P.ErrCode.CONF_TOKEN_NOT_FOUND, 77]))
  if (roll < 80) {
    // Duplicate answers, the second late: it must never be read as another call's answer.
    call.raw(valid(id))
    await new Promise((resolve) => setTimeout(resolve, int(5)))
    return call.raw(valid(id))
  }
  if (roll < 86) {
    // ExtraInfo questions first, odd ones included, then the answer.
    const rounds = 1 + int(4)
    for (let i = 0; i < rounds; i++) {
      const q: P.ExtraInfoRequest = pick([
        { kind: P.Info.Var, name: 'remote_addr' },
        { kind: P.Info.Var, name: 'no_such_var' },
        { kind: P.Info.Var, name: '' },
        { kind: P.Info.ReqBody },
        { kind: P.Info.RespBody },
      ])
      await call.ask(q)
    }
    return call.raw(valid(id))
  }
  if (roll < 92) {
    call.raw(valid(id).subarray(0, int(8)))
    return call.destroy()
  }
  if (roll < 96) return call.close()
  // Split across writes, byte by byte at first.
  const bytes = valid(id)
  call.raw(bytes.subarray(0, 1))
  await new Promise((resolve) => setImmediate(resolve))
  return call.raw(bytes.subarray(1))
}

const mock = await MockRunner.start({
  httpReqCall: (call) => {
    stats.reqAnswers++
    const req = P.decodeHTTPReqCallRequest(call.payload)
    const tag = tagOf(req.headers)
    const stop = (replyId: number) =>
      P.encodeHTTPReqCallResponse({ id: replyId, action: { type: 'stop', status: 200, headers: [], body: Buffer.from(replyId === req.id ? `tag:${tag}` : 'tag:') } })
    const mutated = (): Buffer => {
      if (rand() < 0.6) {
        return P.encodeHTTPReqCallResponse({
          id: req.id,
          action: { type: 'stop', status: pick(ODD_STATUSES), headers: oddHeaders(), body: rand() < 0.7 ? Buffer.from(`tag:${tag}`) : undefined },
        })
      }
      return P.encodeHTTPReqCallResponse({
        id: req.id,
        action: {
          type: 'rewrite',
          path: rand() < 0.7 ? pick(ODD_PATHS) : undefined,
          headers: oddHeaders().filter((h) => h.name !== 'x-fuzz-tag'),
          args: pick([[], [{ name: '' }], [{ name: 'a', value: '\u0000' }], Array.from({ length: 300 }, (_, i) => ({ name: `a${i}`, value: 'v' }))]),
          respHeaders: oddHeaders(),
          body: rand() < 0.3 ? Buffer.from('x'.repeat(int(2000))) : undefined,
        },
      })
    }
    return hostile(call, req.id, stop, mutated)
  },
  httpRespCall: (call) => {
    stats.respAnswers++
    const req = P.decodeHTTPRespCallRequest(call.payload)
    const tag = tagOf(req.headers)
    const ok = (replyId: number) =>
      P.encodeHTTPRespCallResponse({ id: replyId, status: 0, headers: [], body: Buffer.from(replyId === req.id || replyId === 0 ? `tag:${tag}` : 'tag:') })
    const mutated = () =>
      P.encodeHTTPRespCallResponse({ id: pick([0, req.id]), status: pick(ODD_STATUSES), headers: oddHeaders(), body: rand() < 0.5 ? Buffer.from(`tag:${tag}`) : undefined })
    return hostile(call, req.id, ok, mutated)
  },
})

const ext = createExtPlugin({ runner: { socket: mock.path }, callTimeout: 1_000 })
const conf = [{ name: 'fuzz', value: '{}' }]
const app = (req: IncomingMessage, res: ServerResponse) => {
  res.setHeader('x-fuzz-tag', String(req.headers['x-fuzz-tag'] ?? ''))
  res.end(`tag:${String(req.headers['x-fuzz-tag'] ?? '')}`)
}
const reqPhase = withExtPlugin(ext, { plugins: { 'ext-plugin-pre-req': { conf } } }, app)
const respPhase = withExtPlugin(ext, { plugins: { 'ext-plugin-post-resp': { conf } } }, app)
const server = createServer((req, res) => (req.url?.startsWith('/resp') ? respPhase(req, res) : reqPhase(req, res)))
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
// The header size limit is raised: a runner may legitimately send large headers (up to
// maxHeaders of them); what is checked here is framing, not size.
const agent = new Agent({ connections: CONCURRENCY, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000, maxHeaderSize: 64 * 1024 * 1024 })

interface Problems {
  malformed: string[]
  crossed: string[]
  failed: string[]
}
let problems: Problems = { malformed: [], crossed: [], failed: [] }
const note = (list: string[], what: string) => void (list.length < 20 && list.push(what))

async function one(path: string, tag: string): Promise<void> {
  try {
    const res = await request(`${origin}${path}`, { dispatcher: agent, headers: { 'x-fuzz-tag': tag } })
    const body = Buffer.from(await res.body.arrayBuffer())
    const length = res.headers['content-length']
    if (res.statusCode !== 503 && (res.statusCode < 200 || res.statusCode > 599)) note(problems.malformed, `${tag}: status ${res.statusCode}`)
    if (length !== undefined && Number(length) !== body.length) note(problems.malformed, `${tag}: content-length ${String(length)}, body ${body.length}`)
    if (res.headers['transfer-encoding'] !== undefined && length !== undefined) note(problems.malformed, `${tag}: both transfer-encoding and content-length`)
    const seen = /tag:([a-z0-9]*)/.exec(body.toString('latin1'))?.[1]
    if (seen !== undefined && seen !== '' && seen !== tag) note(problems.crossed, `${tag} got ${seen}'s answer`)
  } catch (err) {
    note(problems.failed, `${tag}: ${(err as Error).message}`)
  }
}

async function run(path: string, total: () => number, target: number, prefix: string): Promise<number> {
  problems = { malformed: [], crossed: [], failed: [] }
  let sent = 0
  const worker = async () => {
    // Answers, not requests, are counted: a runner that closes mid-call sees a retry or none.
    while (total() < target) await one(path, `${prefix}${(sent++).toString(36)}`)
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return sent
}

t.test(`${REQ_ANSWERS} mutated request-phase answers`, async (t) => {
  const sent = await run('/req', () => stats.reqAnswers, REQ_ANSWERS, 'q')
  t.comment(`${sent} requests, ${stats.reqAnswers} request-phase answers`)
  t.ok(stats.reqAnswers >= REQ_ANSWERS)
  t.same(problems.malformed, [], 'every response well formed')
  t.same(problems.crossed, [], "no request sees another's answer")
  t.same(problems.failed, [], 'every request got a response')
})

t.test(`${RESP_ANSWERS} mutated response-phase answers`, async (t) => {
  const before = stats.respAnswers
  const sent = await run('/resp', () => stats.respAnswers - before, RESP_ANSWERS, 'r')
  t.comment(`${sent} requests, ${stats.respAnswers - before} response-phase answers`)
  t.ok(stats.respAnswers - before >= RESP_ANSWERS)
  t.same(problems.malformed, [], 'every response well formed')
  t.same(problems.crossed, [], "no request sees another's answer")
  t.same(problems.failed, [], 'every request got a response')
})

t.test('no crash, no unhandled rejection, no socket left open', async (t) => {
  t.same(faults.map(String), [], 'no unhandledRejection or uncaughtException')
  await agent.close()
  // Closed client sockets reach the server a moment later: poll a bounded number of turns.
  let open = -1
  for (let i = 0; i < 200; i++) {
    open = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))
    if (open === 0) break
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.equal(open, 0, 'no client connection left on the server')
  await ext.close()
  for (let i = 0; i < 200 && mock.openConnections > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(mock.openConnections, 0, 'no runner connection left after close()')
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await mock.close()
})
