// The interop scenario table: what the RunnerClient must get right with a real runner,
// written once and run against each real runner (the test plugins of test/interop/*-runner
// share names and conf formats). A runner's known deviations are declared in its
// RunnerTraits, never patched over in an expectation.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { ErrorCode } from '../../src/errors.js'
import * as P from '../../src/protocol/index.js'
import type { ExtraInfoSource } from '../../src/rpc/extra-info.js'
import { RunnerClient } from '../../src/rpc/client.js'
import { startRunner, type RealRunner, type StartedRunner } from '../helpers/interop.js'

export interface RunnerTraits {
  /** Largest ExtraInfo answer the runner reads correctly (Go v0.5.0 reads a frame in one read()). */
  readonly maxExtraInfoBytes: number
  /** The runner can replace the request body (Rewrite.body, proto 0.6.1). */
  readonly rewritesBody: boolean
  /** A bare query arg (`?z`) reaches plugins as an empty value instead of "no value". */
  readonly bareArgIsEmpty: boolean
  // What a runner's plugin API cannot express (each defaults to true: it can). A scenario that
  // needs one of these is skipped for that runner, with the reason in the output.
  /** A repeated name, in Stop headers, request headers or args, keeps all its values. */
  readonly repeatedNames?: boolean
  /** Rewrite.resp_headers. */
  readonly respHeaders?: boolean
  /** An absent ExtraInfo result is told apart from an empty one. */
  readonly absentDistinct?: boolean
  /** The response phase can report the upstream status and headers after asking for the body. */
  readonly respInfo?: boolean
  /** PrepareConf with the same key returns the same token. */
  readonly idempotentKeys?: boolean
  /** The runner prints an IPv6 source address in its usual text form. */
  readonly ipv6Text?: boolean
}

const can = (trait: boolean | undefined, what: string): { skip: string | false } => ({
  skip: trait === false ? `this runner cannot express ${what}` : false,
})

const ipv4 = Buffer.from([127, 0, 0, 1])
const ipv6 = Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a])

let version = 0
/** A RunnerConf for these runner plugins, with a fresh key so each scenario prepares anew. */
function confFor(...plugins: Array<[string, unknown]>): { key: string; conf: P.TextEntry[] } {
  return {
    key: `route#interop#ext-plugin-pre-req#${++version}`,
    conf: plugins.map(([name, value]) => ({ name, value: P.utf8ToBinary(JSON.stringify(value)) })),
  }
}

function request(overrides: Partial<Parameters<RunnerClient['httpReqCall']>[1]> = {}) {
  return { srcIp: ipv4, method: P.Method.GET, path: '/hello', args: [], headers: [{ name: 'host', value: 'localhost' }], ...overrides }
}

function source(vars: Record<string, string> = {}, body?: Uint8Array, respBody?: Uint8Array): ExtraInfoSource {
  return { variable: (name) => vars[name], requestBody: () => body, responseBody: () => respBody }
}

const lower = (entries: readonly P.DecodedTextEntry[]) =>
  entries.map((e): [string, string | null] => [e.name.toLowerCase(), e.value ?? null])
const sorted = (pairs: Array<[string, string | null]>) => [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('latin1')

function stopOf(t: Test, result: P.DecodedHTTPReqCallResponse): P.StopAction<P.DecodedTextEntry> {
  t.equal(result.action?.type, 'stop', 'a Stop action')
  return result.action as P.StopAction<P.DecodedTextEntry>
}

function rewriteOf(t: Test, result: P.DecodedHTTPReqCallResponse): P.RewriteAction<P.DecodedTextEntry> {
  t.equal(result.action?.type, 'rewrite', 'a Rewrite action')
  return result.action as P.RewriteAction<P.DecodedTextEntry>
}

/** Waits until the runner that had `pid` was replaced by a new one that listens. */
async function respawned(started: StartedRunner, pid: number): Promise<void> {
  while (started.process.pid === pid || started.process.pid === undefined) await sleep(10)
  await started.process.ready()
}

export function runScenarios(t: Test, runner: RealRunner, traits: RunnerTraits): void {
  let started: StartedRunner
  t.before(async () => {
    started = await startRunner(t, runner, { process: { respawnDelay: 100 } })
  })

  t.test('Stop: status, repeated headers, body', can(traits.repeatedNames, 'repeated header names'), async (t) => {
    const conf = confFor(['stop', { status: 403, headers: [['X-Same', 'one'], ['X-Same', 'two'], ['x-lower', 'v']], body: 'denied' }])
    const stop = stopOf(t, await started.client.httpReqCall(conf, request()))
    t.equal(stop.status, 403)
    t.same(lower(stop.headers).filter(([n]) => n === 'x-same'), [['x-same', 'one'], ['x-same', 'two']], 'repeated header kept in order')
    t.same(lower(stop.headers).filter(([n]) => n === 'x-lower'), [['x-lower', 'v']])
    t.equal(text(stop.body), 'denied')
  })

  t.test('Stop: status, one header, body', async (t) => {
    const conf = confFor(['stop', { status: 401, headers: [['WWW-Authenticate', 'Bearer']], body: 'who are you' }])
    const stop = stopOf(t, await started.client.httpReqCall(conf, request()))
    t.equal(stop.status, 401)
    t.same(lower(stop.headers).filter(([n]) => n === 'www-authenticate'), [['www-authenticate', 'Bearer']])
    t.equal(text(stop.body), 'who are you')
  })

  t.test('Rewrite: path, headers set and deleted, args set and deleted', async (t) => {
    const conf = confFor(['rewrite', { path: '/v2/items', headers: { 'x-del': null, 'x-user': 'alice' }, args: { d: null, page: '3' } }])
    const rw = rewriteOf(
      t,
      await started.client.httpReqCall(
        conf,
        request({ args: [{ name: 'd', value: '1' }, { name: 'page', value: '2' }], headers: [{ name: 'x-del', value: '1' }] }),
      ),
    )
    t.equal(rw.path, '/v2/items')
    t.same(Object.fromEntries(lower(rw.headers)), { 'x-del': null, 'x-user': 'alice' })
    t.same(sorted(lower(rw.args)), [['d', null], ['page', '3']])
  })

  t.test('ExtraInfo Var: present values', async (t) => {
    const conf = confFor(['vars', { names: ['remote_addr', 'uri'] }])
    const stop = stopOf(t, await started.client.httpReqCall(conf, request(), source({ remote_addr: '10.1.2.3', uri: '/caf\xc3\xa9' })))
    t.same(JSON.parse(Buffer.from(stop.body!).toString('utf8')), { remote_addr: '10.1.2.3', uri: '/caf\u00e9' })
  })

  t.test('no action', async (t) => {
    const result = await started.client.httpReqCall(confFor(['noop', {}]), request())
    t.equal(result.actionType, 0)
    t.equal(result.action, undefined)
  })

  t.test('Rewrite: path, headers set and deleted, args set, appended and deleted, resp_headers', can(traits.respHeaders !== false && traits.repeatedNames !== false, 'resp_headers or repeated args'), async (t) => {
    const conf = confFor([
      'rewrite',
      {
        path: '/new',
        headers: { 'x-del': null, 'x-change': 'new', 'x-add': 'v' },
        args: { d: null, c: 'bar', a: 'foo' },
        args_add: [['a', 'bar']],
        resp_headers: [['X-Resp', 'foo'], ['X-Same', 'one'], ['X-Same', 'two']],
      },
    ])
    const rw = rewriteOf(
      t,
      await started.client.httpReqCall(
        conf,
        request({
          args: [{ name: 'c', value: 'foo' }, { name: 'd', value: 'bar' }],
          headers: [{ name: 'x-del', value: '1' }, { name: 'x-change', value: 'old' }, { name: 'x-keep', value: 'k' }],
        }),
      ),
    )
    t.equal(rw.path, '/new')
    const headers = Object.fromEntries(lower(rw.headers))
    t.same(headers, { 'x-del': null, 'x-change': 'new', 'x-add': 'v' }, 'set, changed, and deleted (no value)')
    t.same(sorted(lower(rw.args)), [['a', 'foo'], ['a', 'bar'], ['c', 'bar'], ['d', null]], 'set, appended, deleted (no value)')
    // Runners keep resp_headers in a map (the Go runner's http.Header iterates in random
    // order): the order of names is not the runner's to keep, that of one name's values is.
    t.same(sorted(lower(rw.respHeaders)), [['x-resp', 'foo'], ['x-same', 'one'], ['x-same', 'two']])
  })

  t.test('Rewrite: body', { skip: traits.rewritesBody ? false : 'this runner cannot replace the body' }, async (t) => {
    const rw = rewriteOf(t, await started.client.httpReqCall(confFor(['rewrite', { body: 'replaced \u00e9' }]), request()))
    t.equal(text(rw.body), P.utf8ToBinary('replaced \u00e9'))
  })

  t.test('ExtraInfo Var: present, empty, missing', can(traits.absentDistinct, 'an absent value apart from an empty one'), async (t) => {
    const conf = confFor(['vars', { names: ['remote_addr', 'server_addr', 'arg_x', 'nope'] }])
    const stop = stopOf(t, await started.client.httpReqCall(conf, request(), source({ remote_addr: '127.0.0.1', server_addr: '10.0.0.1', arg_x: '' })))
    t.same(JSON.parse(text(stop.body)), { remote_addr: '127.0.0.1', server_addr: '10.0.0.1', arg_x: '', nope: null })
  })

  t.test('ExtraInfo ReqBody: bytes intact, absent body', can(traits.absentDistinct, 'an absent body apart from an empty one'), async (t) => {
    const conf = confFor(['echo-body', {}])
    const body = Buffer.alloc(4096)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff // every byte value, not UTF-8
    const stop = stopOf(t, await started.client.httpReqCall(conf, request({ method: P.Method.POST }), source({}, body)))
    t.equal(stop.status, 200)
    t.ok(Buffer.from(stop.body!).equals(body), 'the runner returned the very bytes')
    const none = stopOf(t, await started.client.httpReqCall(conf, request(), source()))
    t.same(lower(none.headers).find(([n]) => n === 'x-body-absent'), ['x-body-absent', 'true'])
  })

  t.test('ExtraInfo ReqBody: the largest body this runner reads', async (t) => {
    const size = Math.min(traits.maxExtraInfoBytes, 8 << 20)
    const body = Buffer.alloc(size, 0x5a)
    const stop = stopOf(t, await started.client.httpReqCall(confFor(['echo-body', {}]), request(), source({}, body)))
    t.equal(stop.body?.length, size)
    t.ok(Buffer.from(stop.body!).equals(body), `${size} bytes round-tripped`)
  })

  t.test('HTTPReqCall as the runner decodes it: method, path, args, headers, src_ip', can(traits.repeatedNames !== false && traits.ipv6Text !== false, 'repeated names or IPv6 text'), async (t) => {
    const conf = confFor(['request-info', { any: 'conf' }])
    const path = P.utf8ToBinary('/caf\u00e9/x y')
    const stop = stopOf(
      t,
      await started.client.httpReqCall(
        conf,
        request({
          method: P.Method.PUT,
          path,
          srcIp: ipv6,
          args: [{ name: 'xx', value: 'y' }, { name: 'xx', value: 'z' }, { name: 'y', value: '' }, { name: 'z' }],
          headers: [{ name: 'x-multi', value: 'a' }, { name: 'x-multi', value: 'b' }, { name: 'user-agent', value: 'ua' }],
        }),
      ),
    )
    const info = JSON.parse(Buffer.from(stop.body!).toString('utf8'))
    t.equal(info.method, 'PUT')
    t.equal(info.path, '/caf\u00e9/x y')
    t.equal(info.src_ip, 'fe80::2a')
    t.same(info.args, [['xx', 'y'], ['xx', 'z'], ['y', ''], ['z', traits.bareArgIsEmpty ? '' : null]])
    t.same(info.headers.map(([n, v]: [string, string]) => [n.toLowerCase(), v]), [['user-agent', 'ua'], ['x-multi', 'a'], ['x-multi', 'b']])
    t.equal(info.conf, '{"any":"conf"}')

    const v4 = JSON.parse(text(stopOf(t, await started.client.httpReqCall(conf, request())).body))
    t.equal(v4.src_ip, '127.0.0.1')
    t.equal(v4.method, 'GET')
  })

  t.test('HTTPRespCall: status, headers, body replaced', async (t) => {
    const conf = confFor(['resp', { status: 418, headers: { 'X-New': 'n' }, read_body: true, append_body: '!' }])
    const result = await started.client.httpRespCall(
      conf,
      { status: 200, headers: [{ name: 'Content-Type', value: 'text/plain' }] },
      source({}, undefined, Buffer.from('upstream')),
    )
    t.equal(result.status, 418)
    t.same(sorted(lower(result.headers)).filter(([n]) => n === 'x-new'), [['x-new', 'n']])
    t.equal(text(result.body), 'upstream!')
  })

  t.test('HTTPRespCall: what the runner sees (status, headers, RespBody, Var)', can(traits.respInfo, 'the response status and headers after reading the body'), async (t) => {
    const conf = confFor(['resp', { info: true, read_body: true, vars: ['upstream_status', 'nope'] }])
    const result = await started.client.httpRespCall(
      conf,
      { status: 201, headers: [{ name: 'Content-Type', value: 'text/plain' }, { name: 'X-Up', value: '1' }, { name: 'X-Up', value: '2' }] },
      source({ upstream_status: '201' }, undefined, Buffer.from('upstream body')),
    )
    const info = JSON.parse(text(result.body))
    t.equal(info.status, 201)
    t.same(info.headers.map(([n, v]: [string, string]) => [n.toLowerCase(), v]), [['content-type', 'text/plain'], ['x-up', '1'], ['x-up', '2']])
    t.equal(info.body, 'upstream body')
    t.same(info.vars, { upstream_status: '201', nope: null })
  })

  t.test('a failing plugin: RPC_ERROR, and the runner keeps serving', async (t) => {
    await t.rejects(started.client.httpReqCall(confFor(['fail', {}]), request()), {
      code: ErrorCode.RUNNER_REPLIED_ERROR,
      message: 'failed to receive RPC_HTTP_REQ_CALL: service unavailable',
    })
    t.equal(stopOf(t, await started.client.httpReqCall(confFor(['stop', { status: 200, body: 'alive' }]), request())).status, 200)
  })

  t.test('PrepareConf is idempotent by key across connections', can(traits.idempotentKeys, 'the same token for the same key'), async (t) => {
    const conf = confFor(['noop', {}])
    const first = await started.client.prepareConf(conf)
    started.client.flushTokens()
    t.equal(await started.client.prepareConf(conf), first, 'same key, same token')
    t.not(await started.client.prepareConf({ ...conf, key: conf.key + '0' }), first, 'another key, another token')
  })

  t.test('200 concurrent calls through the pool', async (t) => {
    const conf = confFor(['vars', { names: ['n'] }])
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => started.client.httpReqCall(conf, request(), source({ n: String(i) }))),
    )
    t.same(results.map((r) => JSON.parse(text((r.action as P.StopAction).body)).n), Array.from({ length: 200 }, (_, i) => String(i)))
    t.ok(started.client.stats.idle <= 32, 'idle connections within the pool bound')
  })

  t.test('the runner killed and respawned between two calls: the second still succeeds', async (t) => {
    const conf = confFor(['stop', { status: 201 }])
    t.equal(stopOf(t, await started.client.httpReqCall(conf, request())).status, 201)
    const prepared = started.client.stats.prepareConfs
    const pid = started.process.pid!
    process.kill(pid, 'SIGKILL')
    await respawned(started, pid)
    t.equal(stopOf(t, await started.client.httpReqCall(conf, request())).status, 201)
    t.equal(started.client.stats.prepareConfs, prepared + 1, 'the token was prepared again')
  })

  t.test('a runner that lost its tokens answers conf token not found; the call is retried', async (t) => {
    // A second client that is not told about restarts keeps a stale token.
    const stale = new RunnerClient({ socketPath: started.process.socketPath })
    t.teardown(() => stale.destroy())
    const conf = confFor(['stop', { status: 202 }])
    await stale.prepareConf(conf)
    const pid = started.process.pid!
    process.kill(pid, 'SIGKILL')
    await respawned(started, pid)
    t.equal(stopOf(t, await stale.httpReqCall(conf, request())).status, 202)
    t.equal(stale.stats.prepareConfs, 2, 'refused once, prepared again, retried')
  })

  t.test('a runner that dies mid-call: a clean error, then service resumes', async (t) => {
    const pid = started.process.pid!
    await t.rejects(started.client.httpReqCall(confFor(['exit', { code: 3 }]), request()), { code: ErrorCode.SOCKET_CLOSED })
    await respawned(started, pid)
    t.equal(stopOf(t, await started.client.httpReqCall(confFor(['stop', { status: 200 }]), request())).status, 200)
  })
}
