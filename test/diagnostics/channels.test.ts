// Every channel the client and the ext-plugin-* plugins publish, subscribed to, with every
// context field checked, through a real TypeScript runner and real HTTP.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import t, { type Test } from 'tap'
import {
  CONFIG_RELOAD_CHANNEL,
  DEGRADATION_CHANNEL,
  PREPARE_CONF_CHANNEL,
  publishConfigReload,
  runnerCallChannel,
  type ConfigReloadContext,
  type DegradationContext,
  type PrepareConfContext,
  type RunnerCallContext,
} from '../../src/diagnostics/index.js'
import { everyPhase, get, setup } from './support.js'

t.setTimeout(30_000)

type Event = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error'

interface Recorded {
  readonly events: Array<[Event, RunnerCallContext]>
  /** Each traced call's context (the same object for all its events), in start order. */
  readonly calls: RunnerCallContext[]
  readonly prepares: PrepareConfContext[]
  readonly degradations: DegradationContext[]
}

function record(t: Test): Recorded {
  const recorded: Recorded = { events: [], calls: [], prepares: [], degradations: [] }
  const on = (event: Event) => (message: unknown) => {
    const context = message as RunnerCallContext
    if (event === 'start') recorded.calls.push(context)
    // the counters are final from asyncStart on; copy them to see what each event saw
    recorded.events.push([event, { ...context }])
  }
  const handlers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') }
  runnerCallChannel.subscribe(handlers)
  const onPrepare = (message: unknown): void => void recorded.prepares.push(message as PrepareConfContext)
  const onDegradation = (message: unknown): void => void recorded.degradations.push(message as DegradationContext)
  subscribe(PREPARE_CONF_CHANNEL, onPrepare)
  subscribe(DEGRADATION_CHANNEL, onDegradation)
  t.teardown(() => {
    runnerCallChannel.unsubscribe(handlers)
    unsubscribe(PREPARE_CONF_CHANNEL, onPrepare)
    unsubscribe(DEGRADATION_CHANNEL, onDegradation)
  })
  return recorded
}

t.test('runner-call: one trace per call, every context field, through HTTP', async (t) => {
  const { ext, traffic, serve } = await setup(t)
  const recorded = record(t)
  const origin = await serve(everyPhase('r1'))

  // the first request prepares three confs; measure the traffic of the second one
  t.equal((await get(origin)).status, 200)
  t.equal(recorded.prepares.length, 3, 'one PrepareConf per ext-plugin')
  const before = { ...traffic }
  recorded.calls.length = 0
  recorded.events.length = 0
  const reply = await get(origin)
  t.equal(reply.status, 200)
  t.equal(reply.headers['x-stamp'], 'stamped')

  t.equal(recorded.calls.length, 3, 'pre-req, post-req, post-resp')
  const [pre, post, resp] = recorded.calls as [RunnerCallContext, RunnerCallContext, RunnerCallContext]
  const common = { route: 'r1', extraInfoRounds: 0, attempts: 1, code: undefined }
  t.match(pre, { ...common, phase: 'rewrite', plugin: 'ext-plugin-pre-req', names: ['ask', 'deny'], messageType: 'RPC_HTTP_REQ_CALL', extraInfoRounds: 2, outcome: 'ok' })
  t.match(post, { ...common, phase: 'access', plugin: 'ext-plugin-post-req', names: ['tag'], messageType: 'RPC_HTTP_REQ_CALL', outcome: 'rewrite' })
  t.match(resp, { ...common, phase: 'response', plugin: 'ext-plugin-post-resp', names: ['stamp'], messageType: 'RPC_HTTP_RESP_CALL', outcome: 'rewrite' })
  t.match(pre.confKey, /^route#r1#ext-plugin-pre-req#\d+-[0-9a-f]{12}$/)
  t.match(post.confKey, /^route#r1#ext-plugin-post-req#/)
  t.match(resp.confKey, /^route#r1#ext-plugin-post-resp#/)
  for (const context of recorded.calls) {
    t.ok(context.result !== undefined, 'result set by diagnostics_channel')
    t.equal(context.error, undefined)
  }
  // every byte through the relay during this request belongs to one of the three calls
  t.equal(pre.bytesSent + post.bytesSent + resp.bytesSent, traffic.toRunner - before.toRunner, 'bytes sent, ExtraInfo answers included')
  t.equal(pre.bytesReceived + post.bytesReceived + resp.bytesReceived, traffic.fromRunner - before.fromRunner, 'bytes received')
  t.ok(pre.bytesReceived > post.bytesReceived, 'two ExtraInfo questions arrived before the answer')

  t.same(
    recorded.events.map(([event]) => event),
    ['start', 'end', 'asyncStart', 'asyncEnd', 'start', 'end', 'asyncStart', 'asyncEnd', 'start', 'end', 'asyncStart', 'asyncEnd'],
    'calls are sequential, each start / end / asyncStart / asyncEnd',
  )
  const [, startSeen] = recorded.events[0]!
  t.equal(startSeen.outcome, undefined, 'nothing is known at start')
  t.equal(startSeen.bytesSent, 0)
  const [, asyncStartSeen] = recorded.events[2]!
  t.equal(asyncStartSeen.outcome, 'ok', 'final at asyncStart')
  t.equal(asyncStartSeen.bytesSent, pre.bytesSent)

  recorded.calls.length = 0
  recorded.events.length = 0
  const denied = await get(origin, { 'x-deny': '1' })
  t.equal(denied.status, 403)
  t.equal(recorded.calls.length, 1, 'a stop ends the request: no post-req, no response phase')
  t.match(recorded.calls[0], { phase: 'rewrite', outcome: 'stop', extraInfoRounds: 2 })
  t.ok(ext.stats().calls.rewrite.stop >= 1)
})

t.test('runner-call errors and degradation; prepare-conf', async (t) => {
  const { serve } = await setup(t)
  const recorded = record(t)
  const failing = await serve({ id: 'r2', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'boom', value: '{}' }] } } })
  const degraded = await serve({ id: 'r3', plugins: { 'ext-plugin-post-req': { conf: [{ name: 'boom', value: '{}' }], allow_degradation: true } } })
  const unknown = await serve({ id: 'r4', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'nope', value: '' }] } } })

  t.equal((await get(failing)).status, 503)
  t.equal(recorded.calls.length, 1)
  const failed = recorded.calls[0]!
  t.match(failed, {
    phase: 'rewrite',
    route: 'r2',
    plugin: 'ext-plugin-pre-req',
    names: ['boom'],
    messageType: 'RPC_HTTP_REQ_CALL',
    extraInfoRounds: 0,
    attempts: 1,
    outcome: undefined,
    code: 'EXT_ERR_RUNNER_REPLIED_ERROR',
  })
  t.ok(failed.bytesSent > 0 && failed.bytesReceived > 0, 'an RPC error answer was read')
  t.match(failed.error, { code: 'EXT_ERR_RUNNER_REPLIED_ERROR' }, 'error set by diagnostics_channel')
  t.same(
    recorded.events.map(([event]) => event),
    ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
  )
  t.same(recorded.degradations, [], 'a 503 is not a degradation')

  t.equal((await get(degraded)).status, 200, 'allow_degradation: through')
  t.equal(recorded.degradations.length, 1)
  const degradation = recorded.degradations[0]!
  t.same(Object.keys(degradation).sort(), ['code', 'error', 'phase', 'plugin', 'route'])
  t.match(degradation, { route: 'r3', plugin: 'ext-plugin-post-req', phase: 'access', code: 'EXT_ERR_RUNNER_REPLIED_ERROR' })
  t.match(degradation.error, { code: 'EXT_ERR_RUNNER_REPLIED_ERROR' })

  // prepare-conf: the two confs above prepared fine, this one is refused (strict runner)
  t.equal((await get(unknown)).status, 503)
  t.equal(recorded.prepares.length, 3)
  const [first, , refused] = recorded.prepares as [PrepareConfContext, PrepareConfContext, PrepareConfContext]
  t.same(Object.keys(first).sort(), ['code', 'duration', 'error', 'key', 'names', 'token'])
  t.match(first, { names: ['boom'], error: undefined, code: undefined })
  t.match(first.key, /^route#r2#ext-plugin-pre-req#/)
  t.ok(typeof first.token === 'number' && first.token > 0, 'the token')
  t.ok(first.duration >= 0 && first.duration < 30_000, 'a duration in ms')
  t.match(refused, { names: ['nope'], token: undefined, code: 'EXT_ERR_RUNNER_REPLIED_ERROR' })
  t.match(refused.key, /^route#r4#ext-plugin-pre-req#/)
  t.match(refused.error, { code: 'EXT_ERR_RUNNER_REPLIED_ERROR' })
  t.match(recorded.calls.at(-1), { route: 'r4', code: 'EXT_ERR_RUNNER_REPLIED_ERROR', bytesSent: 0 }, 'the call failed on its token: nothing sent for it')
})

t.test('runner-call: a restarted runner forgot the token, the retry is the same call', async (t) => {
  const { serve, restartRunner } = await setup(t)
  const recorded = record(t)
  const origin = await serve({ id: 'r5', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'tag', value: '{}' }] } } })
  t.equal((await get(origin)).status, 200)
  await restartRunner()
  recorded.calls.length = 0
  recorded.prepares.length = 0
  t.equal((await get(origin)).status, 200)
  t.equal(recorded.calls.length, 1)
  t.match(recorded.calls[0], { route: 'r5', attempts: 2, outcome: 'rewrite', code: undefined })
  t.equal(recorded.prepares.length, 1, 'prepared again after `conf token not found`')
})

t.test('a direct client call without plugin identity', async (t) => {
  const { ext } = await setup(t)
  const recorded = record(t)
  const client = ext.client!
  const conf = { key: 'route#direct#ext-plugin-post-resp#1', conf: [{ name: 'stamp', value: '{}' }] }
  await client.httpRespCall(conf, { status: 200, headers: [] })
  t.match(recorded.calls[0], { phase: 'response', route: undefined, plugin: undefined, names: ['stamp'], confKey: conf.key, outcome: 'rewrite' })
})

t.test('config-reload: publishConfigReload, for the gateway', async (t) => {
  const seen: ConfigReloadContext[] = []
  const onReload = (message: unknown): void => void seen.push(message as ConfigReloadContext)
  publishConfigReload('file', 3) // nobody listens: nothing built, nothing seen
  subscribe(CONFIG_RELOAD_CHANNEL, onReload)
  t.teardown(() => unsubscribe(CONFIG_RELOAD_CHANNEL, onReload))
  const refusal = new Error('routes[0].uri: required')
  publishConfigReload('file', 3)
  publishConfigReload('admin', 3, refusal)
  t.same(seen, [
    { source: 'file', ok: true, error: undefined, routes: 3 },
    { source: 'admin', ok: false, error: refusal, routes: 3 },
  ])
})
