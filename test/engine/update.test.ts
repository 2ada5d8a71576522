// route.update(): the version bumps and a new PrepareConf happens, an invalid update keeps
// the old pipeline, requests in flight finish on the pipeline they started with, and
// PrepareConf happens once per route version however many requests there are.
import t, { type Test } from 'tap'
import { ConfigError } from '../../src/errors.js'
import type { PrepareContext } from '../../src/engine/pipeline.js'
import type { Plugin } from '../../src/engine/plugin.js'
import { contentHash } from '../../src/engine/runner-plugins.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import * as P from '../../src/protocol/index.js'
import { exchangeOf } from '../helpers/exchange.js'
import { MockRunner, type MockHandlers } from '../helpers/mock-runner.js'
import { pairs, prepareConfs, prepareKey, recordingLogger, serve } from './support.js'

const PRE = 'ext-plugin-pre-req'
const POST = 'ext-plugin-post-req'

async function setup(t: Test, handlers: MockHandlers = {}, plugins: Array<Plugin<unknown, unknown>> = [], maxConnections?: number) {
  const mock = await MockRunner.start(handlers)
  const log = recordingLogger()
  const ext = createExtPlugin({ runner: { socket: mock.path }, logger: log.logger, plugins, maxConnections })
  t.teardown(async () => {
    await ext.close()
    await mock.close()
  })
  return { mock, ext, log }
}

const confA = { conf: [{ name: 'say', value: '{"v":"A"}' }] }
const confB = { conf: [{ name: 'say', value: '{"v":"B"}' }, { name: 'caf\u00e9', value: '\u00e9' }] }

t.test('update: version, new PrepareConf with the new conf, key per version', async (t) => {
  const { ext, mock, log } = await setup(t)
  const route = ext.route({ id: 'r1', plugins: { [PRE]: confA } })
  t.equal(route.version, 1)
  t.equal(route.pipeline.version, 1)
  const first = route.pipeline
  await serve(route.pipeline, exchangeOf(), log.logger)
  await serve(route.pipeline, exchangeOf(), log.logger)

  route.update({ id: 'ignored-on-update', name: 'renamed', plugins: { [PRE]: confB } })
  t.equal(route.version, 2)
  t.not(route.pipeline, first, 'a new pipeline')
  t.equal(first.version, 1, 'the old pipeline is untouched')
  t.equal(route.id, 'r1', 'the id stays')
  t.equal(route.pipeline.routeId, 'r1')
  t.equal(route.pipeline.routeName, 'renamed')
  await serve(route.pipeline, exchangeOf(), log.logger)
  await serve(route.pipeline, exchangeOf(), log.logger)

  route.update({ plugins: { [PRE]: confB } })
  t.equal(route.version, 3, 'the same content again is still a new version')
  await serve(route.pipeline, exchangeOf(), log.logger)

  const prepared = prepareConfs(mock)
  t.strictSame(
    prepared.map((p) => ({ key: p.key, conf: p.conf && pairs(p.conf) })),
    [
      { key: `route#r1#${PRE}#1-${contentHash({ ...confA, allow_degradation: false })}`, conf: [['say', '{"v":"A"}']] },
      { key: `route#r1#${PRE}#2-${contentHash({ ...confB, allow_degradation: false })}`, conf: [['say', '{"v":"B"}'], ['caf\xc3\xa9', '\xc3\xa9']] },
      { key: `route#r1#${PRE}#3-${contentHash({ ...confB, allow_degradation: false })}`, conf: [['say', '{"v":"B"}'], ['caf\xc3\xa9', '\xc3\xa9']] },
    ],
    'one PrepareConf per version; conf entries as UTF-8 bytes',
  )
  const tokens = mock.received.filter((f) => f.type === P.MessageType.RPC_HTTP_REQ_CALL).map((f) => P.decodeHTTPReqCallRequest(f.payload).confToken)
  t.strictSame(tokens, [1, 1, 2, 2, 3])
  t.match(prepared[0]!.key, /^route#r1#ext-plugin-pre-req#1-[0-9a-f]{12}$/)

  // A plugin config without `conf`: the vector is omitted.
  route.update({ plugins: { [PRE]: {} } })
  await serve(route.pipeline, exchangeOf(), log.logger)
  t.equal(prepareConfs(mock)[3]!.conf, undefined)
})

t.test('an invalid update throws and keeps the old pipeline', async (t) => {
  const { ext, mock, log } = await setup(t)
  const route = ext.route({ id: 'r2', plugins: { [PRE]: confA } })
  const before = route.pipeline
  await serve(route.pipeline, exchangeOf(), log.logger)
  const bad: Array<[string, unknown]> = [
    ['plugin config', { plugins: { [PRE]: { conf: [] } } }],
    ['unknown plugin', { plugins: { nope: {} } }],
    ['route level', { plugins: {}, extra: 1 }],
    ['filter', { plugins: { [PRE]: { _meta: { filter: ['x'] } } } }],
  ]
  for (const [name, config] of bad) {
    t.throws(() => route.update(config as never), ConfigError, name)
    t.equal(route.pipeline, before, `${name}: the same pipeline`)
    t.equal(route.version, 1, `${name}: the same version`)
  }
  await serve(route.pipeline, exchangeOf(), log.logger)
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 1, 'no new PrepareConf')
  // A valid update afterwards is version 2, not 2 + the failures.
  route.update({ plugins: { [PRE]: confB } })
  t.equal(route.version, 2)
})

t.test("in-process plugins' prepare: once per version, with the route's context", async (t) => {
  const contexts: PrepareContext[] = []
  const plugin: Plugin = {
    name: 'prep',
    priority: 1,
    prepare(conf, context) {
      contexts.push(context)
      return conf
    },
    rewrite: () => undefined,
  }
  const { ext, log } = await setup(t, {}, [plugin as Plugin<unknown, unknown>])
  const route = ext.route({ id: 'p', plugins: { prep: { a: 1 } } })
  for (let i = 0; i < 5; i++) await serve(route.pipeline, exchangeOf(), log.logger)
  route.update({ plugins: { prep: { a: 2 } } })
  for (let i = 0; i < 5; i++) await serve(route.pipeline, exchangeOf(), log.logger)
  t.strictSame(contexts, [
    { confType: 'route', routeId: 'p', version: 1, contentHash: contentHash({ a: 1 }) },
    { confType: 'route', routeId: 'p', version: 2, contentHash: contentHash({ a: 2 }) },
  ])
  t.not(contentHash({ a: 1 }), contentHash({ a: 2 }))
  t.equal(contentHash({ a: 1 }), contentHash({ a: 1 }), 'stable for the same content')
})

t.test('100 requests in flight while the route is updated: each finishes on its own pipeline', async (t) => {
  const keyOf = new Map<number, string>()
  const held: Array<() => void> = []
  let holding = true
  const seen: Array<{ req: string; plugin: string; key: string }> = []
  let arrived = 0
  let onArrival: (() => void) | undefined
  const { ext, mock, log } = await setup(t, {
    prepareConf(call, mock) {
      keyOf.set(mock.grantToken(call), prepareKey(call.payload))
    },
    async httpReqCall(call) {
      const req = P.decodeHTTPReqCallRequest(call.payload)
      const key = keyOf.get(req.confToken)!
      const plugin = key.split('#')[2]!
      seen.push({ req: req.headers.find((h) => h.name === 'x-req')!.value!, plugin, key })
      if (plugin === PRE && holding) {
        arrived++
        onArrival?.()
        await new Promise<void>((resolve) => held.push(resolve))
      }
      call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))
    },
  }, [], 128) // 100 calls held at the runner at once: above the default maxConnections (64)
  const route = ext.route({ id: 'busy', plugins: { [PRE]: confA, [POST]: confA } })
  const start = (name: string) => serve(route.pipeline, exchangeOf({ headers: [['Host', 'h'], ['X-Req', name]] }), log.logger)

  const old = Array.from({ length: 100 }, (_, i) => start(`old-${i}`))
  // Wait for all 100 to be held; give up after 5 s rather than hang the suite.
  let timer: NodeJS.Timeout | undefined
  await new Promise<void>((resolve) => {
    onArrival = () => arrived === 100 && resolve()
    timer = setTimeout(resolve, 5000)
    onArrival()
  })
  clearTimeout(timer)
  t.equal(held.length, 100, 'all 100 pre-req calls are held at the runner')
  if (held.length !== 100) {
    holding = false
    for (const release of held.splice(0)) release()
    await Promise.all(old)
    return
  }

  route.update({ plugins: { [PRE]: confB, [POST]: confB } })
  holding = false
  const fresh = await Promise.all(Array.from({ length: 20 }, (_, i) => start(`new-${i}`)))
  t.ok(fresh.every((s) => s.response.status === 200), 'new requests finish while the old ones are still held')

  for (const release of held.splice(0)) release()
  const finished = await Promise.all(old)
  t.ok(finished.every((s) => s.reachedApp && s.response.status === 200), 'the old requests finish')

  const keysBy = (prefix: string, plugin: string) => new Set(seen.filter((s) => s.req.startsWith(prefix) && s.plugin === plugin).map((s) => s.key.split('#')[3]!.split('-')[0]))
  t.strictSame([...keysBy('old-', PRE)], ['1'], 'old requests: pre-req on version 1')
  t.strictSame([...keysBy('old-', POST)], ['1'], 'old requests: post-req on version 1, after the update')
  t.strictSame([...keysBy('new-', PRE)], ['2'], 'new requests: version 2')
  t.strictSame([...keysBy('new-', POST)], ['2'])
  t.equal(seen.filter((s) => s.req.startsWith('old-')).length, 200)
  t.equal(seen.filter((s) => s.req.startsWith('new-')).length, 40)
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 4, 'one per plugin per version')
  t.strictSame(log.at('error'), [])
})

t.test('PrepareConf once per route version under 1 000 requests', async (t) => {
  const { ext, mock, log } = await setup(t)
  const route = ext.route({ plugins: { [PRE]: confA, [POST]: confA } })
  const batch = async (n: number) => {
    for (let i = 0; i < n; i += 25) {
      const served = await Promise.all(Array.from({ length: 25 }, () => serve(route.pipeline, exchangeOf(), log.logger)))
      if (!served.every((s) => s.response.status === 200)) t.fail('a request failed')
    }
  }
  await batch(1000)
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 2, '1 000 requests, one PrepareConf per plugin')
  t.equal(mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL), 2000)
  route.update({ plugins: { [PRE]: confA, [POST]: confA } })
  await batch(1000)
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 4, 'and one more per plugin for version 2')
  t.equal(mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL), 4000)
  // 25 at a time stays under the 32 idle connections kept: no churn.
  t.ok(mock.connections <= 32, `connections are pooled (${mock.connections} opened)`)
  t.strictSame(log.at('error'), [])
})
