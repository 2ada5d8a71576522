// Phases and priorities (design.md "Phases", protocol.md §10–11): descending priority within
// each phase, the built-ins' 12000 / -3000 / -4000 among user plugins, `_meta` (priority,
// disable, filter, error_response), a handler's response ending the request, the response
// phase, handlers that throw, nginx's error page, and a global rule before a mounted route.
import t, { type Test } from 'tap'
import type { Exchange } from '../../src/engine/exchange.js'
import { HeaderList } from '../../src/engine/headers.js'
import type { Plugin, PluginResponse } from '../../src/engine/plugin.js'
import { runRequestPhases, runResponsePhase } from '../../src/engine/run.js'
import { createExtPlugin, type ExtPluginOptions } from '../../src/ext-plugin.js'
import * as P from '../../src/protocol/index.js'
import { exchangeOf } from '../helpers/exchange.js'
import { MockRunner } from '../helpers/mock-runner.js'
import { errorPageOf, plainResponse, prepareKeyPlugin, recordingLogger, serve } from './support.js'

type Phase = 'rewrite' | 'access' | 'response'
type Conf = { label?: string; [k: string]: unknown }
type Handler = (conf: Conf, exchange: Exchange) => PluginResponse | undefined | void | Promise<PluginResponse | undefined | void>

/**
 * A plugin that records `<name>:<phase>` (or `<name>/<label>:<phase>` when its conf has a
 * label) for each handler it has; `answers` lets a phase return or throw.
 */
function tracer(calls: string[], name: string, priority: number, phases: Phase[], answers: Partial<Record<Phase, Handler>> = {}): Plugin<unknown, unknown> {
  const plugin: Record<string, unknown> = { name, priority }
  for (const phase of phases) {
    plugin[phase] = (conf: Conf, exchange: Exchange) => {
      calls.push(conf?.label === undefined ? `${name}:${phase}` : `${name}/${conf.label}:${phase}`)
      return answers[phase]?.(conf, exchange)
    }
  }
  return plugin as unknown as Plugin<unknown, unknown>
}

const ALL: Phase[] = ['rewrite', 'access', 'response']

function setup(t: Test, options: ExtPluginOptions) {
  const log = recordingLogger()
  const ext = createExtPlugin({ logger: log.logger, ...options })
  t.teardown(() => ext.close())
  return { ext, log }
}

t.test('default priorities: descending within each phase, whatever the configuration order', async (t) => {
  const calls: string[] = []
  const { ext, log } = setup(t, {
    plugins: [tracer(calls, 'low', 1000, ALL), tracer(calls, 'high', 3000, ALL), tracer(calls, 'mid', 2000, ALL), tracer(calls, 'neg', -5, ['access'])],
  })
  const route = ext.route({ plugins: { low: {}, neg: {}, high: {}, mid: {} } })
  t.strictSame(
    Object.fromEntries(Object.entries(route.pipeline.phases).map(([phase, list]) => [phase, list.map((i) => i.name)])),
    { rewrite: ['high', 'mid', 'low'], access: ['high', 'mid', 'low', 'neg'], response: ['high', 'mid', 'low'] },
    'the compiled phases',
  )
  const served = await serve(route.pipeline, exchangeOf(), log.logger)
  t.strictSame(calls, [
    'high:rewrite', 'mid:rewrite', 'low:rewrite',
    'high:access', 'mid:access', 'low:access', 'neg:access',
    'high:response', 'mid:response', 'low:response',
  ])
  t.equal(served.reachedApp, true)
  t.strictSame(plainResponse(served.response), { status: 200, headers: [['Content-Type', 'text/plain']], body: 'from the app' })
  t.strictSame(log.lines, [])
})

t.test('equal priorities keep the configuration order (one of the orders APISIX allows)', async (t) => {
  const calls: string[] = []
  const { ext, log } = setup(t, { plugins: [tracer(calls, 'x', 10, ['rewrite']), tracer(calls, 'y', 10, ['rewrite'])] })
  await serve(ext.route({ plugins: { x: {}, y: {} } }).pipeline, exchangeOf(), log.logger)
  await serve(ext.route({ plugins: { y: {}, x: {} } }).pipeline, exchangeOf(), log.logger)
  t.strictSame(calls, ['x:rewrite', 'y:rewrite', 'y:rewrite', 'x:rewrite'])
})

t.test('the built-ins (12000, -3000, -4000) among user plugins', async (t) => {
  const calls: string[] = []
  const byToken = new Map<number, string>()
  const mock = await MockRunner.start({
    prepareConf(call, mock) {
      byToken.set(mock.grantToken(call), prepareKeyPlugin(call.payload))
    },
    httpReqCall(call) {
      calls.push(`runner:${byToken.get(P.decodeHTTPReqCallRequest(call.payload).confToken)}`)
      call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))
    },
    httpRespCall(call) {
      calls.push(`runner:${byToken.get(P.decodeHTTPRespCallRequest(call.payload).confToken)}`)
      call.raw(P.encodeHTTPRespCallResponse({ id: 0, status: 0, headers: [] }))
    },
  })
  t.teardown(() => mock.close())
  const { ext, log } = setup(t, {
    runner: { socket: mock.path },
    plugins: [
      tracer(calls, 'request-id', 12015, ['rewrite']),
      tracer(calls, 'before-pre', 12001, ['rewrite']),
      tracer(calls, 'after-pre', 11999, ['rewrite']),
      tracer(calls, 'proxy-rewrite', 1008, ALL),
      tracer(calls, 'before-post', -2999, ['access']),
      tracer(calls, 'after-post', -3001, ['access']),
      tracer(calls, 'before-resp', -3999, ['response']),
      tracer(calls, 'after-resp', -4001, ['response']),
    ],
  })
  const runner = { conf: [{ name: 'noop', value: '{}' }] }
  const route = ext.route({
    plugins: {
      'after-resp': {},
      'ext-plugin-post-resp': runner,
      'after-post': {},
      'ext-plugin-post-req': runner,
      'after-pre': {},
      'ext-plugin-pre-req': runner,
      'before-resp': {},
      'before-post': {},
      'proxy-rewrite': {},
      'before-pre': {},
      'request-id': {},
    },
  })
  await serve(route.pipeline, exchangeOf(), log.logger)
  t.strictSame(calls, [
    'request-id:rewrite',
    'before-pre:rewrite',
    'runner:ext-plugin-pre-req',
    'after-pre:rewrite',
    'proxy-rewrite:rewrite',
    'proxy-rewrite:access',
    'before-post:access',
    'runner:ext-plugin-post-req',
    'after-post:access',
    'proxy-rewrite:response',
    'before-resp:response',
    'runner:ext-plugin-post-resp',
    'after-resp:response',
  ])
  t.strictSame(log.at('error'), [])
})

t.test("_meta.priority re-orders this route's instances only", async (t) => {
  const calls: string[] = []
  const { ext, log } = setup(t, { plugins: [tracer(calls, 'a', 3000, ALL), tracer(calls, 'b', 2000, ALL), tracer(calls, 'c', 1000, ALL)] })
  const custom = ext.route({ plugins: { a: { _meta: { priority: 1 } }, b: {}, c: { _meta: { priority: 2500 } } } })
  const plain = ext.route({ plugins: { a: {}, b: {}, c: {} } })
  t.strictSame(custom.pipeline.phases.rewrite.map((i) => [i.name, i.priority]), [['c', 2500], ['b', 2000], ['a', 1]])
  t.strictSame(plain.pipeline.phases.rewrite.map((i) => [i.name, i.priority]), [['a', 3000], ['b', 2000], ['c', 1000]])

  await serve(custom.pipeline, exchangeOf(), log.logger)
  t.strictSame(calls.splice(0), ['c:rewrite', 'b:rewrite', 'a:rewrite', 'c:access', 'b:access', 'a:access', 'c:response', 'b:response', 'a:response'])
  await serve(plain.pipeline, exchangeOf(), log.logger)
  t.strictSame(calls.splice(0), ['a:rewrite', 'b:rewrite', 'c:rewrite', 'a:access', 'b:access', 'c:access', 'a:response', 'b:response', 'c:response'])
  // A route made afterwards is not affected either.
  await serve(ext.route({ plugins: { c: {}, a: {} } }).pipeline, exchangeOf(), log.logger)
  t.strictSame(calls.splice(0), ['a:rewrite', 'c:rewrite', 'a:access', 'c:access', 'a:response', 'c:response'])
  // Negative and zero custom priorities.
  await serve(ext.route({ plugins: { a: { _meta: { priority: -10 } }, b: { _meta: { priority: 0 } }, c: {} } }).pipeline, exchangeOf(), log.logger)
  t.strictSame(calls.splice(0, 3), ['c:rewrite', 'b:rewrite', 'a:rewrite'])
})

t.test('_meta.priority moves a built-in too', async (t) => {
  const calls: string[] = []
  const mock = await MockRunner.start({
    httpReqCall(call) {
      calls.push('runner')
      call.raw(P.encodeHTTPReqCallResponse({ id: 0, action: undefined }))
    },
  })
  t.teardown(() => mock.close())
  const { ext, log } = setup(t, { runner: { socket: mock.path }, plugins: [tracer(calls, 'b', 2000, ['rewrite']), tracer(calls, 'c', 1000, ['rewrite'])] })
  const moved = ext.route({ plugins: { 'ext-plugin-pre-req': { _meta: { priority: 1500 } }, b: {}, c: {} } })
  t.strictSame(moved.pipeline.phases.rewrite.map((i) => i.name), ['b', 'ext-plugin-pre-req', 'c'])
  await serve(moved.pipeline, exchangeOf(), log.logger)
  t.strictSame(calls, ['b:rewrite', 'runner', 'c:rewrite'])
})

t.test('_meta.disable: the plugin runs in no phase', async (t) => {
  const calls: string[] = []
  const { ext, log } = setup(t, { plugins: [tracer(calls, 'on', 2, ALL), tracer(calls, 'off', 1, ALL)] })
  const route = ext.route({ plugins: { on: { _meta: { disable: false } }, off: { _meta: { disable: true } } } })
  t.strictSame(route.pipeline.phases.rewrite.map((i) => i.name), ['on'])
  await serve(route.pipeline, exchangeOf(), log.logger)
  t.strictSame(calls, ['on:rewrite', 'on:access', 'on:response'])
})

t.test('_meta.filter: true runs the plugin, false skips it in every phase', async (t) => {
  const calls: string[] = []
  const { ext, log } = setup(t, { plugins: [tracer(calls, 'f', 2, ALL), tracer(calls, 'always', 1, ALL)] })
  const route = ext.route({ plugins: { f: { _meta: { filter: [['arg_go', '==', 'yes']] } }, always: { _meta: { filter: [] } } } })
  const cases: Array<[string, string[]]> = [
    ['/?go=yes', ['f:rewrite', 'always:rewrite', 'f:access', 'always:access', 'f:response', 'always:response']],
    ['/?go=no', ['always:rewrite', 'always:access', 'always:response']],
    ['/', ['always:rewrite', 'always:access', 'always:response']],
  ]
  for (const [url, expected] of cases) {
    await serve(route.pipeline, exchangeOf({ url }), log.logger)
    t.strictSame(calls.splice(0), expected, url)
  }
  t.strictSame(log.lines, [])
})

t.test('_meta.filter is evaluated once per request, when the plugin would first run', async (t) => {
  const calls: string[] = []
  let reads = 0
  let flag = 'yes'
  const variables = (name: string) => {
    if (name !== 'counted') return undefined
    reads++
    return flag
  }
  const { ext, log } = setup(t, {
    variables,
    plugins: [
      tracer(calls, 'setter', 10, ['rewrite'], { rewrite: (_conf, x) => void x.headers.set('X-Flag', 'on') }),
      tracer(calls, 'f', 2, ALL),
      tracer(calls, 'late', 1, ['access', 'response']),
    ],
  })
  const route = ext.route({
    plugins: {
      setter: {},
      f: { _meta: { filter: [['counted', '==', 'yes']] } },
      // Evaluated in the access phase, after `setter` changed the header in rewrite.
      late: { _meta: { filter: [['http_x_flag', '==', 'on']] } },
    },
  })
  const x = exchangeOf({ init: { variables } })
  await serve(route.pipeline, x, log.logger)
  t.strictSame(calls.splice(0), ['setter:rewrite', 'f:rewrite', 'f:access', 'late:access', 'f:response', 'late:response'])
  t.equal(reads, 1, 'the variable was read once for three phases')

  // The verdict holds for the whole request even if the variable changes meanwhile.
  reads = 0
  const changing = tracer(calls, 'flipper', 1, ['rewrite', 'access'], { rewrite: () => void (flag = 'no') })
  const ext2 = createExtPlugin({ variables, plugins: [changing, tracer(calls, 'f', 2, ALL)] })
  t.teardown(() => ext2.close())
  flag = 'yes'
  const route2 = ext2.route({ plugins: { flipper: {}, f: { _meta: { filter: [['counted', '==', 'yes']] } } } })
  await serve(route2.pipeline, exchangeOf({ init: { variables } }), log.logger)
  t.strictSame(calls.splice(0), ['f:rewrite', 'flipper:rewrite', 'f:access', 'flipper:access', 'f:response'], 'flipped after f was admitted: f still runs')
  t.equal(reads, 1)

  // false: read once too, and nothing of the plugin runs.
  reads = 0
  flag = 'no'
  await serve(route.pipeline, exchangeOf({ init: { variables } }), log.logger)
  t.strictSame(calls.splice(0), ['setter:rewrite', 'late:access', 'late:response'])
  t.equal(reads, 1, 'false is cached too')
  // A new request evaluates again.
  flag = 'yes'
  await serve(route.pipeline, exchangeOf({ init: { variables } }), log.logger)
  t.strictSame(calls.splice(0), ['setter:rewrite', 'f:rewrite', 'f:access', 'late:access', 'f:response', 'late:response'])
  t.equal(reads, 2)
})

t.test('_meta.filter on post_arg_*: the form body is read for it', async (t) => {
  const calls: string[] = []
  const { ext, log } = setup(t, { plugins: [tracer(calls, 'admin-only', 1, ['access'])] })
  const route = ext.route({ plugins: { 'admin-only': { _meta: { filter: [['post_arg_user', '==', 'admin']] } } } })
  t.equal(route.pipeline.phases.access[0]!.filterReadsBody, true)
  const form = (body: string) => exchangeOf({ method: 'POST', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body })
  await serve(route.pipeline, form('user=admin&x=1'), log.logger)
  t.strictSame(calls.splice(0), ['admin-only:access'], 'admin')
  await serve(route.pipeline, form('user=guest'), log.logger)
  t.strictSame(calls.splice(0), [], 'guest')
  const json = exchangeOf({ method: 'POST', headers: [['Content-Type', 'application/json']], body: '{"user":"admin"}' })
  await serve(route.pipeline, json, log.logger)
  t.strictSame(calls.splice(0), [], 'not a form: post_arg_user is nil')
  t.equal(json.body.consumed, false, 'and the body was not read')
  t.strictSame(log.lines, [])
})

t.test('a filter that cannot be evaluated: warning, and the plugin runs', async (t) => {
  const calls: string[] = []
  const variables = (name: string) => {
    if (name === 'boom') throw new Error('kaput')
    return undefined
  }
  const { ext, log } = setup(t, { variables, plugins: [tracer(calls, 'f', 1, ALL)] })
  const route = ext.route({ plugins: { f: { _meta: { filter: [['boom', '==', 'x']] } } } })
  await serve(route.pipeline, exchangeOf({ init: { variables } }), log.logger)
  t.strictSame(calls, ['f:rewrite', 'f:access', 'f:response'])
  t.strictSame(log.lines, ["warn failed to run the 'vars' expression: kaput"], 'warned once: the verdict (run) is cached')
})

t.test('a handler returning a response ends the request', async (t) => {
  const calls: string[] = []
  const deny = (status: number, body?: string): PluginResponse => ({ status, headers: { 'X-Why': 'denied' }, body })
  const { ext, log } = setup(t, {
    plugins: [
      tracer(calls, 'a', 300, ['rewrite', 'response']),
      tracer(calls, 'stopper', 200, ALL, { rewrite: (_c, x) => (x.variable('arg_at') === 'rewrite' ? deny(403, 'no') : undefined), access: (_c, x) => (x.variable('arg_at') === 'access' ? deny(401) : undefined) }),
      tracer(calls, 'b', 100, ['rewrite', 'response']),
      tracer(calls, 'c', 50, ['access', 'response']),
      tracer(calls, 'resp-only', 10, ['response']),
    ],
  })
  const route = ext.route({ plugins: { a: {}, stopper: {}, b: {}, c: {}, 'resp-only': {} } })

  let served = await serve(route.pipeline, exchangeOf({ url: '/?at=rewrite' }), log.logger)
  t.strictSame(calls.splice(0), ['a:rewrite', 'stopper:rewrite', 'a:response', 'stopper:response'], 'in rewrite: only plugins that ran see the response phase')
  t.equal(served.stopped, true)
  t.strictSame(plainResponse(served.response), { status: 403, headers: [['X-Why', 'denied']], body: 'no' })
  t.strictSame(log.lines.splice(0), ['warn stopper exits with http status code 403'])

  served = await serve(route.pipeline, exchangeOf({ url: '/?at=access' }), log.logger)
  t.strictSame(calls.splice(0), ['a:rewrite', 'stopper:rewrite', 'b:rewrite', 'stopper:access', 'a:response', 'stopper:response', 'b:response'], 'in access')
  t.strictSame(plainResponse(served.response), { status: 401, headers: [['X-Why', 'denied'], ['content-type', 'text/html']], body: errorPageOf('401 Unauthorized') })
  t.strictSame(log.lines.splice(0), ['warn stopper exits with http status code 401'])

  served = await serve(route.pipeline, exchangeOf({ url: '/' }), log.logger)
  t.strictSame(calls.splice(0), ['a:rewrite', 'stopper:rewrite', 'b:rewrite', 'stopper:access', 'c:access', 'a:response', 'stopper:response', 'b:response', 'c:response', 'resp-only:response'], 'not stopped: every plugin')
  t.equal(served.reachedApp, true)
})

t.test('the stopped flag and a response below 400', async (t) => {
  const calls: string[] = []
  const seen: Array<number | undefined> = []
  const { ext, log } = setup(t, {
    plugins: [
      tracer(calls, 'ok', 2, ['rewrite'], { rewrite: () => ({ status: 200, body: { ok: true } }) }),
      tracer(calls, 'watch', 1, ['rewrite', 'response'], { response: (_c, x) => void seen.push(x.response?.status) }),
    ],
  })
  const route = ext.route({ plugins: { ok: {}, watch: {} } })
  const x = exchangeOf()
  const early = await runRequestPhases(route.pipeline, x, log.logger)
  t.strictSame(plainResponse(early), { status: 200, headers: [], body: '{"ok":true}\n' }, 'a table body is JSON plus a newline')
  t.strictSame(calls.splice(0), ['ok:rewrite'])
  x.response = early
  await runResponsePhase(route.pipeline, x, log.logger, true)
  t.strictSame(calls.splice(0), [], "watch did not run before the stop, so its response phase does not either")
  t.strictSame(log.lines, [], 'no warning below 400')

  // Not stopped: the same call runs every response handler.
  const y = exchangeOf()
  y.response = { status: 204, headers: new HeaderList(), body: undefined }
  await runResponsePhase(route.pipeline, y, log.logger, false)
  t.strictSame(calls.splice(0), ['watch:response'])
  t.strictSame(seen, [204], 'it saw the response')
})

t.test('a response-phase handler replaces exchange.response; later ones see the new one', async (t) => {
  const calls: string[] = []
  const seen: unknown[] = []
  const { ext, log } = setup(t, {
    plugins: [
      tracer(calls, 'replace', 20, ['response'], { response: (_c, x) => ({ status: 201, headers: [['X-A', '1']], body: `was ${x.response!.status}: ${x.response!.body}` }) }),
      tracer(calls, 'observe', 10, ['response'], { response: (_c, x) => void seen.push(plainResponse(x.response)) }),
      tracer(calls, 'deny', 5, ['response'], { response: (_c, x) => (x.variable('arg_deny') ? { status: 502 } : undefined) }),
    ],
  })
  const route = ext.route({ plugins: { replace: {}, observe: {}, deny: { _meta: { error_response: 'bad gateway' } } } })
  let served = await serve(route.pipeline, exchangeOf(), log.logger, { status: 200, body: 'app' })
  t.strictSame(seen.splice(0), [{ status: 201, headers: [['X-A', '1']], body: 'was 200: app' }])
  t.strictSame(plainResponse(served.response), { status: 201, headers: [['X-A', '1']], body: 'was 200: app' })
  t.strictSame(log.lines.splice(0), [])

  served = await serve(route.pipeline, exchangeOf({ url: '/?deny=1' }), log.logger, { status: 200, body: 'app' })
  t.strictSame(plainResponse(served.response), { status: 502, headers: [], body: 'bad gateway' }, 'error_response applies in the response phase too')
  t.strictSame(log.lines.splice(0), ['warn deny exits with http status code 502'])
  t.strictSame(calls, ['replace:response', 'observe:response', 'deny:response', 'replace:response', 'observe:response', 'deny:response'])
})

t.test('a handler that throws: 500 with the error page, an error log, the rest skipped', async (t) => {
  const calls: string[] = []
  const boom = (): never => {
    throw new Error('kaput')
  }
  const { ext, log } = setup(t, {
    plugins: [
      tracer(calls, 'thrower', 20, ALL, {
        rewrite: (_c, x) => (x.variable('arg_in') === 'rewrite' ? boom() : undefined),
        access: async (_c, x) => (x.variable('arg_in') === 'access' ? Promise.reject(new TypeError('async kaput')) : undefined),
        response: (_c, x) => (x.variable('arg_in') === 'response' ? boom() : undefined),
      }),
      tracer(calls, 'after', 10, ALL),
    ],
  })
  // error_response is for statuses the plugin returns, not for a crash.
  const route = ext.route({ plugins: { thrower: { _meta: { error_response: { message: 'not for crashes' } } }, after: {} } })
  const page500 = { status: 500, headers: [['content-type', 'text/html']], body: errorPageOf('500 Internal Server Error') }

  let served = await serve(route.pipeline, exchangeOf({ url: '/?in=rewrite' }), log.logger)
  t.strictSame(plainResponse(served.response), page500)
  t.strictSame(calls.splice(0), ['thrower:rewrite', 'thrower:response'])
  t.equal(log.lines.length, 1)
  t.match(log.lines.splice(0)[0], /^error plugin thrower failed in the rewrite phase: Error: kaput\n\s+at /)

  served = await serve(route.pipeline, exchangeOf({ url: '/?in=access' }), log.logger)
  t.strictSame(plainResponse(served.response), page500)
  t.strictSame(calls.splice(0), ['thrower:rewrite', 'after:rewrite', 'thrower:access', 'thrower:response', 'after:response'])
  t.match(log.lines.splice(0), [/^error plugin thrower failed in the access phase: TypeError: async kaput\n/])

  served = await serve(route.pipeline, exchangeOf({ url: '/?in=response' }), log.logger, { status: 200, body: 'app' })
  t.strictSame(plainResponse(served.response), page500, 'the response phase replaces the response with the 500')
  t.strictSame(calls.splice(0), ['thrower:rewrite', 'after:rewrite', 'thrower:access', 'after:access', 'thrower:response', 'after:response'])
  t.match(log.lines.splice(0), [/^error plugin thrower failed in the response phase: Error: kaput\n/])

  // A thrown non-Error is logged as text.
  const ext2 = createExtPlugin({ plugins: [tracer(calls, 'str', 1, ['rewrite'], { rewrite: () => { throw 'just a string' } })] })
  t.teardown(() => ext2.close())
  served = await serve(ext2.route({ plugins: { str: {} } }).pipeline, exchangeOf(), log.logger)
  t.strictSame(plainResponse(served.response), page500)
  t.strictSame(log.lines.splice(0), ['error plugin str failed in the rewrite phase: just a string'])
})

t.test('_meta.error_response: string verbatim, object as JSON + newline, for >= 400 only', async (t) => {
  const { ext, log } = setup(t, {
    plugins: [
      {
        name: 'answer',
        priority: 1,
        rewrite: (_conf: unknown, x: Exchange): PluginResponse => ({
          status: Number(x.variable('arg_status')),
          headers: { 'X-Kept': 'yes' },
          body: x.variable('arg_body') === undefined ? undefined : String(x.variable('arg_body')),
        }),
      } as Plugin<unknown, unknown>,
    ],
  })
  const text = ext.route({ plugins: { answer: { _meta: { error_response: 'custom text' } } } })
  const json = ext.route({ plugins: { answer: { _meta: { error_response: { error: 'denied', code: 7 } } } } })
  const none = ext.route({ plugins: { answer: {} } })
  const cases: Array<{ route: typeof text; url: string; status: number; headers: Array<[string, string]>; body: string; warn: boolean }> = [
    { route: text, url: '/?status=403&body=orig', status: 403, headers: [['X-Kept', 'yes']], body: 'custom text', warn: true },
    { route: text, url: '/?status=403', status: 403, headers: [['X-Kept', 'yes']], body: 'custom text', warn: true },
    { route: text, url: '/?status=400&body=orig', status: 400, headers: [['X-Kept', 'yes']], body: 'custom text', warn: true },
    { route: text, url: '/?status=599', status: 599, headers: [['X-Kept', 'yes']], body: 'custom text', warn: true },
    { route: json, url: '/?status=503', status: 503, headers: [['X-Kept', 'yes']], body: '{"error":"denied","code":7}\n', warn: true },
    // Below 400: not applied.
    { route: text, url: '/?status=399&body=orig', status: 399, headers: [['X-Kept', 'yes']], body: 'orig', warn: false },
    { route: json, url: '/?status=302', status: 302, headers: [['X-Kept', 'yes'], ['content-type', 'text/html']], body: errorPageOf('302 Found'), warn: false },
    { route: text, url: '/?status=200&body=orig', status: 200, headers: [['X-Kept', 'yes']], body: 'orig', warn: false },
    // Without error_response: the body as returned, or the error page.
    { route: none, url: '/?status=403&body=orig', status: 403, headers: [['X-Kept', 'yes']], body: 'orig', warn: true },
    { route: none, url: '/?status=403', status: 403, headers: [['X-Kept', 'yes'], ['content-type', 'text/html']], body: errorPageOf('403 Forbidden'), warn: true },
  ]
  for (const c of cases) {
    const served = await serve(c.route.pipeline, exchangeOf({ url: c.url }), log.logger)
    t.strictSame(plainResponse(served.response), { status: c.status, headers: c.headers, body: c.body }, c.url)
    t.strictSame(log.lines.splice(0), c.warn ? [`warn answer exits with http status code ${c.status}`] : [], `${c.url}: log`)
  }
})

t.test("nginx's error page for a bodiless response of 300 and above", async (t) => {
  const { ext, log } = setup(t, {
    plugins: [
      {
        name: 'answer',
        priority: 1,
        rewrite: (_conf: unknown, x: Exchange): PluginResponse => ({
          status: Number(x.variable('arg_status')),
          headers: x.variable('arg_ct') === undefined ? undefined : { 'Content-Type': String(x.variable('arg_ct')) },
        }),
      } as Plugin<unknown, unknown>,
    ],
  })
  const route = ext.route({ plugins: { answer: {} } })
  const html: Array<[string, string]> = [['content-type', 'text/html']]
  const cases: Array<[number, Array<[string, string]>, string | undefined, string?]> = [
    [200, [], undefined],
    [204, [], undefined],
    [299, [], undefined],
    [300, html, errorPageOf('300 Multiple Choices')],
    [301, html, errorPageOf('301 Moved Permanently')],
    [302, html, errorPageOf('302 Found')],
    [304, [], undefined],
    [400, html, errorPageOf('400 Bad Request')],
    [404, html, errorPageOf('404 Not Found')],
    [405, html, errorPageOf('405 Not Allowed')],
    [413, html, errorPageOf('413 Request Entity Too Large')],
    [500, html, errorPageOf('500 Internal Server Error')],
    [502, html, errorPageOf('502 Bad Gateway')],
    [503, html, errorPageOf('503 Service Temporarily Unavailable')],
    [504, html, errorPageOf('504 Gateway Time-out')],
    [418, html, errorPageOf("418 I'm a teapot")],
    [599, html, errorPageOf('599')],
    [403, [['Content-Type', 'application/problem+json']], errorPageOf('403 Forbidden'), 'application/problem+json'],
  ]
  for (const [status, headers, body, ct] of cases) {
    const url = `/?status=${status}${ct === undefined ? '' : `&ct=${encodeURIComponent(ct)}`}`
    const served = await serve(route.pipeline, exchangeOf({ url }), log.logger)
    t.strictSame(plainResponse(served.response), { status, headers, body }, url)
  }
})

t.test('a global rule (app-wide route) then a mounted route on one exchange', async (t) => {
  const calls: string[] = []
  const routeIds: string[] = []
  const { ext, log } = setup(t, {
    plugins: [
      tracer(calls, 'p', 20, ALL, {
        rewrite: (_c, x) => void routeIds.push(String(x.variable('route_id'))),
        access: (conf, x) => (x.variable('arg_stop') === conf.label ? { status: 403, body: `stopped by ${conf.label}` } : undefined),
      }),
      tracer(calls, 'q', 10, ['rewrite', 'response']),
    ],
  })
  const global = ext.route({ id: 'global', plugins: { p: { label: 'g' }, q: { label: 'g', _meta: { filter: [['arg_q', '==', 'global']] } } } })
  const mounted = ext.route({ id: 'mounted', plugins: { p: { label: 'm' }, q: { label: 'm', _meta: { filter: [['arg_q', '==', 'mounted']] } } } })

  let served = await serve([global.pipeline, mounted.pipeline], exchangeOf({ url: '/?q=mounted' }), log.logger)
  t.strictSame(calls.splice(0), ['p/g:rewrite', 'p/g:access', 'p/m:rewrite', 'q/m:rewrite', 'p/m:access', 'p/g:response', 'p/m:response', 'q/m:response'], 'global first, each with its own filter verdicts')
  t.strictSame(routeIds.splice(0), ['global', 'mounted'], 'route_id is the route being run')
  t.equal(served.reachedApp, true)

  served = await serve([global.pipeline, mounted.pipeline], exchangeOf({ url: '/?q=global' }), log.logger)
  t.strictSame(calls.splice(0), ['p/g:rewrite', 'q/g:rewrite', 'p/g:access', 'p/m:rewrite', 'p/m:access', 'p/g:response', 'q/g:response', 'p/m:response'])

  // The global rule stops the request: the mounted route never runs.
  served = await serve([global.pipeline, mounted.pipeline], exchangeOf({ url: '/?q=mounted&stop=g' }), log.logger)
  t.strictSame(calls.splice(0), ['p/g:rewrite', 'p/g:access', 'p/g:response'])
  t.strictSame(plainResponse(served.response), { status: 403, headers: [], body: 'stopped by g' })

  // The mounted route stops it: the global rule's plugins all ran, so all see the response.
  served = await serve([global.pipeline, mounted.pipeline], exchangeOf({ url: '/?q=mounted&stop=m' }), log.logger)
  t.strictSame(calls.splice(0), ['p/g:rewrite', 'p/g:access', 'p/m:rewrite', 'q/m:rewrite', 'p/m:access', 'p/g:response', 'p/m:response', 'q/m:response'])
  t.strictSame(plainResponse(served.response), { status: 403, headers: [], body: 'stopped by m' })
  t.strictSame(log.at('warn'), ['p exits with http status code 403', 'p exits with http status code 403'])

  // The same route run twice on one exchange (mounted twice) keeps one state: filters are not re-evaluated.
  let reads = 0
  const variables = (name: string) => (name === 'arg_q' ? (reads++, 'global') : undefined)
  const x = exchangeOf({ init: { variables } })
  await runRequestPhases(global.pipeline, x, log.logger)
  await runRequestPhases(global.pipeline, x, log.logger)
  t.equal(reads, 1)
  t.strictSame(calls.splice(0), ['p/g:rewrite', 'q/g:rewrite', 'p/g:access', 'p/g:rewrite', 'q/g:rewrite', 'p/g:access'])
})
