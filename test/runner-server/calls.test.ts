// The plugin API against raw frames: what plugins read from HTTPReqCall / HTTPRespCall,
// and exactly what their changes put on the wire.
import t, { type Test } from 'tap'
import * as P from '../../src/protocol/index.js'
import { definePlugin, formatIp, type RunnerPlugin, type RunnerRequest, type RunnerResponse, type StopResponse } from '../../src/runner-server/index.js'
import { pairs, reqAction, respOf, rewriteOf, serve, stopOf, text } from './fixtures/gateway.js'

type ReqFilter = (request: RunnerRequest, response: StopResponse) => void | Promise<void>
type RespFilter = (response: RunnerResponse) => void | Promise<void>

/** A runner whose plugins are the given filters, named a, b, c… in order; one token for all. */
async function withFilters(t: Test, req: ReqFilter[], resp: RespFilter[] = []) {
  const plugins: Array<RunnerPlugin<unknown>> = []
  const names: string[] = []
  for (let i = 0; i < Math.max(req.length, resp.length); i++) {
    const name = String.fromCharCode(97 + i)
    names.push(name)
    plugins.push({
      name,
      requestFilter: req[i] ? (_c, request, response) => req[i]!(request, response) : undefined,
      responseFilter: resp[i] ? (_c, response) => resp[i]!(response) : undefined,
    })
  }
  const served = await serve(t, plugins)
  const client = await served.client()
  const token = await client.prepare(names.map((n) => [n, '']))
  return { ...served, client, token }
}

t.test('what a plugin reads from an HTTPReqCall', async (t) => {
  let seen: Record<string, unknown> = {}
  const { client, token } = await withFilters(t, [
    (request) => {
      seen = {
        id: request.id,
        method: request.method,
        path: request.path,
        args: request.args.entries(),
        argX: request.args.get('x'),
        argBare: request.args.get('bare'),
        argEmpty: request.args.get('empty'),
        argMissing: request.args.get('missing'),
        argAll: request.args.getAll('x'),
        hasBare: request.args.has('bare'),
        headers: request.headers.entries(),
        multi: request.headers.getAll('X-Multi'),
        first: request.headers.get('X-MULTI'),
        binary: request.headers.get('x-bin'),
        srcIp: request.srcIp,
        srcIpBytes: [...request.srcIpBytes],
      }
    },
  ])
  const frame = await client.reqCall(token, {
    id: 42,
    method: P.Method.PATCH,
    path: P.utf8ToBinary('/caf\u00e9'),
    srcIp: Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a]),
    args: [{ name: 'x', value: '1' }, { name: 'bare' }, { name: 'empty', value: '' }, { name: 'x', value: '2' }],
    headers: [{ name: 'x-multi', value: 'a' }, { name: 'x-multi', value: 'b' }, { name: 'x-bin', value: Buffer.from([0xff, 0x00, 0x80]) }],
  })
  t.equal(reqAction(frame).actionType, P.Action.NONE, 'reading changes nothing')
  t.equal(reqAction(frame).id, 42, 'the id is echoed')
  t.same(seen, {
    id: 42,
    method: 'PATCH',
    path: '/caf\u00c3\u00a9',
    args: [['x', '1'], ['bare', null], ['empty', ''], ['x', '2']],
    argX: '1',
    argBare: null,
    argEmpty: '',
    argMissing: undefined,
    argAll: ['1', '2'],
    hasBare: true,
    headers: [['x-multi', 'a'], ['x-multi', 'b'], ['x-bin', '\u00ff\u0000\u0080']],
    multi: ['a', 'b'],
    first: 'a',
    binary: '\u00ff\u0000\u0080',
    srcIp: 'fe80::2a',
    srcIpBytes: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a],
  })
})

t.test('formatIp', async (t) => {
  const v6 = (...groups: number[]) => Buffer.from(groups.flatMap((g) => [g >> 8, g & 0xff]))
  t.equal(formatIp(Buffer.from([10, 0, 0, 255])), '10.0.0.255')
  t.equal(formatIp(v6(0, 0, 0, 0, 0, 0, 0, 1)), '::1')
  t.equal(formatIp(v6(0, 0, 0, 0, 0, 0, 0, 0)), '::')
  t.equal(formatIp(v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), '2001:db8::1:0:0:1', 'the first of two equal runs')
  t.equal(formatIp(v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)), '2001:db8:0:1:1:1:1:1', 'one zero group is not shortened')
  t.equal(formatIp(v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001)), '::ffff:10.0.0.1')
  t.equal(formatIp(Buffer.alloc(0)), undefined)
})

t.test('Stop: status, repeated headers, body from strings and bytes', async (t) => {
  const { client, token } = await withFilters(t, [
    (_request, response) => {
      response.setStatus(403).write('caf\u00e9 ').write(Buffer.from([0xff]))
      response.headers.append('X-Same', 'one').append('X-Same', 'two').set('x-set', 'a').set('X-Set', 'b')
    },
  ])
  const stop = stopOf(await client.reqCall(token))
  t.equal(stop.status, 403)
  t.same(pairs(stop.headers), [['X-Same', 'one'], ['X-Same', 'two'], ['X-Set', 'b']])
  t.same([...Buffer.from(stop.body!)], [...Buffer.from('caf\u00e9 ', 'utf8'), 0xff], 'strings as UTF-8, bytes as they are')
})

t.test('Stop: any use of the response stops, with 200 unless a status is set', async (t) => {
  const { client, token } = await withFilters(t, [(_r, response) => void response.headers.set('x-only', 'header')])
  const stop = stopOf(await client.reqCall(token))
  t.equal(stop.status, 200)
  t.same(pairs(stop.headers), [['x-only', 'header']])
  t.equal(stop.body, undefined, 'no body field')
})

t.test('the first plugin that stops ends the chain; its Stop wins over earlier rewrites', async (t) => {
  const ran: string[] = []
  const { client, token } = await withFilters(t, [
    (request) => void (ran.push('a'), (request.path = '/changed')),
    (_r, response) => void (ran.push('b'), response.setStatus(401)),
    () => void ran.push('c'),
  ])
  const stop = stopOf(await client.reqCall(token))
  t.equal(stop.status, 401)
  t.same(ran, ['a', 'b'])
})

t.test('Rewrite: only what changed goes out', async (t) => {
  const { client, token } = await withFilters(t, [
    (request) => {
      request.path = '/new'
      request.headers.set('X-Change', 'new').set('x-add', 'v').delete('x-del').set('x-same', 'same').set('x-multi', 'one')
      request.args.delete('d').set('c', 'bar').set('a', 'foo').append('a', 'bar').set('same', '1').append('bare', 'v')
      request.respHeaders.append('X-Resp', 'foo').append('X-Same', 'one').append('X-Same', 'two')
    },
    (request) => {
      // Later plugins see the earlier ones' changes.
      request.headers.set('x-seen', String(request.headers.get('x-change')))
      request.args.set('e', String(request.args.getAll('a').join('+')))
    },
  ])
  const rewrite = rewriteOf(
    await client.reqCall(token, {
      path: '/old',
      args: [{ name: 'c', value: 'foo' }, { name: 'd', value: 'bar' }, { name: 'same', value: '1' }, { name: 'bare' }],
      headers: [
        { name: 'x-change', value: 'old' },
        { name: 'x-del', value: '1' },
        { name: 'x-same', value: 'same' },
        { name: 'x-keep', value: 'k' },
        { name: 'x-multi', value: 'one' },
        { name: 'x-multi', value: 'two' },
      ],
    }),
  )
  t.equal(rewrite.path, '/new')
  t.same(pairs(rewrite.headers), [['X-Change', 'new'], ['x-add', 'v'], ['x-del', null], ['x-multi', 'one'], ['x-seen', 'new']])
  t.same(pairs(rewrite.args), [['d', null], ['c', 'bar'], ['a', 'foo'], ['a', 'bar'], ['bare', ''], ['bare', 'v'], ['e', 'foo+bar']])
  t.same(pairs(rewrite.respHeaders), [['X-Resp', 'foo'], ['X-Same', 'one'], ['X-Same', 'two']])
  t.equal(rewrite.body, undefined)
})

t.test('Rewrite: body; the path set back to the original is no change', async (t) => {
  const { client, token, logger } = await withFilters(t, [
    (request) => {
      request.path = '/x'
      request.path = '/hello'
      request.setBody('')
      request.setBody('r\u00e9')
    },
  ])
  const rewrite = rewriteOf(await client.reqCall(token))
  t.equal(rewrite.path, undefined)
  t.equal(text(rewrite.body), 'r\u00e9')
  t.ok(logger.has('warn', 'an empty request body cannot be sent'))
})

t.test('no change at all: no action, even after set-and-restore', async (t) => {
  const { client, token } = await withFilters(t, [
    (request) => {
      request.headers.set('host', 'localhost')
      request.args.set('q', '1').delete('q')
    },
  ])
  t.same(reqAction(await client.reqCall(token, { id: 3 })), { id: 3, actionType: 0, action: undefined })
})

t.test('ExtraInfo: var() and body() ask once per call and cache, absent included', async (t) => {
  const seen: unknown[] = []
  const { client, token } = await withFilters(t, [
    async (request) => {
      const [a, b, a2] = await Promise.all([request.var('a'), request.var('b'), request.var('a')])
      seen.push(a, b, a2, await request.var('missing'), await request.var('missing'), await request.var('empty'))
      const body = await request.body()
      seen.push(body?.toString('latin1'), (await request.body()) === body)
    },
    async (request) => void seen.push(await request.var('a'), (await request.body())?.length),
  ])
  const frame = await client.reqCall(token, {}, (q) => {
    if (q.kind === P.Info.ReqBody) return { result: Buffer.from([0xc3, 0xa9, 0]) }
    if (q.name === 'a') return { result: 'va' }
    if (q.name === 'b') return { result: 'v\u00ffb' }
    if (q.name === 'empty') return { result: '' }
    return {}
  })
  t.equal(reqAction(frame).actionType, P.Action.NONE)
  t.same(seen, ['va', 'v\u00ffb', 'va', undefined, undefined, '', '\u00c3\u00a9\u0000', true, 'va', 3])
  t.same(
    client.questions.map((q) => (q.kind === P.Info.Var ? q.name : q.kind)),
    ['a', 'b', 'missing', 'empty', P.Info.ReqBody],
    'one question per distinct name, one for the body, strictly one at a time',
  )
})

t.test('ExtraInfo: an absent body is undefined', async (t) => {
  let body: unknown = 'unset'
  const { client, token } = await withFilters(t, [async (request) => void (body = await request.body())])
  await client.reqCall(token)
  t.equal(body, undefined)
})

t.test('var() after the filter returned fails instead of stealing the next frame', async (t) => {
  let late: Promise<unknown> | undefined
  let saved: RunnerRequest | undefined
  const { client, token } = await withFilters(t, [(request) => void (saved = request)])
  await client.reqCall(token)
  late = saved!.var('late')
  await t.rejects(late, /the call is over/)
  t.equal(reqAction(await client.reqCall(token, { id: 9 })).id, 9, 'the connection is fine')
})

t.test('a question left in flight is answered before the reply goes out', async (t) => {
  const { client, token } = await withFilters(t, [
    (request, response) => {
      void request.var('x') // not awaited
      response.setStatus(200)
    },
  ])
  t.equal(stopOf(await client.reqCall(token, {}, () => ({ result: '1' }))).status, 200)
  t.equal(client.questions.length, 1)
})

t.test('response phase: nothing changed, an empty reply', async (t) => {
  const { client, token } = await withFilters(t, [], [(response) => void response.headers.get('content-type')])
  const reply = respOf(await client.respCall(token, { id: 5, status: 201, headers: [{ name: 'Content-Type', value: 'text/plain' }] }))
  t.same({ ...reply, headers: pairs(reply.headers) }, { id: 5, status: 0, headers: [], body: undefined })
})

const upstream = [
  { name: 'Content-Type', value: 'text/plain' },
  { name: 'Content-Length', value: '8' },
  { name: 'Connection', value: 'keep-alive' },
  { name: 'Transfer-Encoding', value: 'chunked' },
  { name: 'Set-Cookie', value: 'a=1' },
  { name: 'Set-Cookie', value: 'b=2' },
]

t.test('response phase: any change sends the whole header list, as the plugins see it', async (t) => {
  const seen: unknown[] = []
  const { client, token } = await withFilters(
    t,
    [],
    [
      (response) => {
        seen.push(response.status)
        response.setStatus(418)
        response.headers.set('x-new', 'n').append('Set-Cookie', 'c=3')
      },
      (response) => void seen.push(response.status, response.headers.getAll('set-cookie')),
    ],
  )
  const reply = respOf(await client.respCall(token, { status: 200, headers: upstream }))
  t.same(seen, [200, 418, ['a=1', 'b=2', 'c=3']], 'every response plugin runs and sees the earlier changes')
  t.equal(reply.status, 418)
  t.same(pairs(reply.headers), [
    ['Content-Type', 'text/plain'],
    ['Content-Length', '8'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
    ['x-new', 'n'],
    ['Set-Cookie', 'c=3'],
  ], 'hop-by-hop headers left out, the body is unchanged so Content-Length stays')
  t.equal(reply.body, undefined)
})

t.test('response phase: a new body keeps the upstream headers, drops the stale Content-Length', async (t) => {
  const { client, token } = await withFilters(
    t,
    [],
    [
      async (response) => {
        const body = await response.body()
        response.write(body!).write(Buffer.from('!'))
      },
    ],
  )
  const reply = respOf(await client.respCall(token, { headers: upstream }, (q) => ({ result: q.kind === P.Info.RespBody ? 'upstream' : undefined })))
  t.equal(reply.status, 0, 'status kept')
  t.same(pairs(reply.headers), [['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']])
  t.equal(text(reply.body), 'upstream!')
  t.same(client.questions.map((q) => q.kind), [P.Info.RespBody])
})

t.test('response phase: framing headers a plugin sets itself are kept', async (t) => {
  const { client, token } = await withFilters(t, [], [(response) => void response.setBody('x').headers.set('content-length', '1')])
  const reply = respOf(await client.respCall(token, { headers: upstream }))
  t.same(pairs(reply.headers).map(([n]) => n.toLowerCase()), ['content-type', 'content-length', 'set-cookie', 'set-cookie'])
})

t.test('plugins without the phase are skipped; conf order is kept', async (t) => {
  const order: string[] = []
  const mk = (name: string, phases: string): RunnerPlugin<unknown> => ({
    name,
    requestFilter: phases.includes('q') ? () => void order.push(`${name}:req`) : undefined,
    responseFilter: phases.includes('s') ? () => void order.push(`${name}:resp`) : undefined,
  })
  const { client } = await serve(t, [mk('one', 'qs'), mk('two', 's'), mk('three', 'q')])
  const c = await client()
  const token = await c.prepare([['three', ''], ['two', ''], ['one', '']])
  await c.reqCall(token)
  await c.respCall(token)
  t.same(order, ['three:req', 'one:req', 'two:resp', 'one:resp'])
})

t.test('status and header validation throw inside the plugin (SERVICE_UNAVAILABLE)', async (t) => {
  const { client, token } = await withFilters(t, [(_r, response) => void response.setStatus(42)])
  t.equal((await client.reqCall(token)).type, P.MessageType.RPC_ERROR)
})

t.test('definePlugin types the conf from parseConf', async (t) => {
  const plugin = definePlugin({
    name: 'typed',
    parseConf: (value) => ({ n: Number(value) }),
    requestFilter: (conf, _r, response) => void response.setStatus(200).write(String(conf.n + 1)),
  })
  const { client } = await serve(t, [plugin])
  const c = await client()
  t.equal(text(stopOf(await c.reqCall(await c.prepare([['typed', '41']]))).body), '42')
})

t.test('wire text must be binary: Unicode text where bytes go is refused, utf8ToBinary() converts', async (t) => {
  const { client, token, logger } = await withFilters(t, [
    (request) => {
      request.headers.set('x-text', P.utf8ToBinary('\u65e5\u672c'))
      request.headers.set('x-raw', '\u65e5\u672c')
    },
  ])
  t.equal((await client.reqCall(token)).type, P.MessageType.RPC_ERROR)
  t.ok(logger.has('error', 'a header value must be a binary string (one char per byte); use utf8ToBinary() for text'))
})
