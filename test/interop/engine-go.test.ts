// The engine end to end against the real Go Plugin Runner (v0.5.0, see go-runner/README.md):
// routes with the three built-ins, the runner started and stopped by createExtPlugin, and
// the answers applied to the exchange as APISIX applies them.
import t from 'tap'
import { patchResponseHeaders } from '../../src/engine/apply-actions.js'
import { HeaderList } from '../../src/engine/headers.js'
import { createExtPlugin, type ExtPlugin } from '../../src/ext-plugin.js'
import { parseArgs } from '../../src/engine/args.js'
import { exchangeOf } from '../helpers/exchange.js'
import { goRunner, whenBuilt } from '../helpers/interop.js'
import { byName, errorPageOf, plainResponse, recordingLogger, serve, type Recorder } from '../engine/support.js'

/** The library's own entries: the runner's output lines (`runner <pid>: …`, at their own level) aside. */
const ours = (lines: readonly string[]): string[] => lines.filter((l) => !/^\w+ runner \d+: /.test(l))

const PRE = 'ext-plugin-pre-req'
const POST = 'ext-plugin-post-req'
const RESP = 'ext-plugin-post-resp'
const runnerPlugin = (name: string, conf: unknown = {}) => ({ name, value: JSON.stringify(conf) })
const PAGE_503 = { status: 503, headers: [['content-type', 'text/html']], body: errorPageOf('503 Service Temporarily Unavailable') }
const json = (body: Buffer | undefined) => JSON.parse(body?.toString('utf8') ?? 'null')

t.test('the engine with the Go runner', whenBuilt(goRunner), async (t) => {
  let ext: ExtPlugin
  let log: Recorder
  t.before(async () => {
    log = recordingLogger()
    ext = createExtPlugin({ runner: { cmd: goRunner.cmd, env: goRunner.env, startTimeout: 10_000 }, logger: log.logger })
    await ext.ready()
  })
  t.teardown(() => ext?.close())
  t.afterEach(() => void (log.lines.length = 0))

  t.test('Stop with repeated headers', async (t) => {
    const route = ext.route({ plugins: { [PRE]: { conf: [runnerPlugin('stop', { status: 403, headers: [['X-Same', 'one'], ['X-Same', 'two']], body: 'denied' })] } } })
    const served = await serve(route.pipeline, exchangeOf(), log.logger)
    t.equal(served.stopped, true)
    t.strictSame(plainResponse(served.response), { status: 403, headers: [['x-same', 'one'], ['x-same', 'two']], body: 'denied' })
    t.strictSame(log.at('warn'), [`${PRE} exits with http status code 403`])

    const noBody = ext.route({ plugins: { [POST]: { conf: [runnerPlugin('stop', { status: 401 })] } } })
    t.strictSame(plainResponse((await serve(noBody.pipeline, exchangeOf(), log.logger)).response), {
      status: 401,
      headers: [['content-type', 'text/html']],
      body: errorPageOf('401 Unauthorized'),
    }, 'no body: the error page')
  })

  t.test('Rewrite: path, headers, args (protocol.md §5.3), resp_headers', async (t) => {
    const route = ext.route({
      plugins: {
        [PRE]: {
          conf: [
            runnerPlugin('rewrite', {
              path: '/new',
              headers: { 'x-del': null, 'x-change': 'new', 'x-add': 'v' },
              args: { d: null, c: 'bar', a: 'foo' },
              args_add: [['a', 'bar']],
              resp_headers: [['X-Resp', 'foo'], ['X-Same', 'one'], ['X-Same', 'two'], ['Content-Type', 'text/html']],
            }),
          ],
        },
        // What the runner then sees, through its own eyes.
        [POST]: { conf: [runnerPlugin('request-info')] },
      },
    })
    const x = exchangeOf({ url: '/hello?c=foo&d=bar', headers: [['Host', 'localhost'], ['X-Del', '1'], ['X-Change', 'old'], ['X-Keep', 'k']] })
    const served = await serve(route.pipeline, x, log.logger)
    t.equal(served.stopped, true, 'request-info answers with a Stop')
    t.equal(x.upstreamUri, '/new')
    t.equal(x.url.split('?')[0], '/new')
    t.strictSame(byName(parseArgs(x.query).map((a): [string, string | true] => [a.name, a.value])), [['a', 'foo'], ['a', 'bar'], ['c', 'bar']], 'a = foo,bar; c = bar; no d')
    t.strictSame(byName([...x.headers].map(([n, v]): [string, string] => [n.toLowerCase(), v])), [['host', 'localhost'], ['x-add', 'v'], ['x-change', 'new'], ['x-keep', 'k']])
    const app = HeaderList.from([['Content-Type', 'text/plain'], ['X-Same', 'app']])
    patchResponseHeaders(app, x)
    // Go keeps resp_headers in a map: the order across names is random, within a name kept.
    t.strictSame(byName([...app]), [['Content-Type', 'text/plain'], ['x-resp', 'foo'], ['x-same', 'one'], ['x-same', 'two']], 'resp_headers: Content-Type dropped, first sets, then append')

    const info = json(served.response.body)
    t.equal(info.path, '/new')
    t.strictSame(info.args, [['a', 'foo'], ['a', 'bar'], ['c', 'bar']])
    t.strictSame(info.headers, [['Host', 'localhost'], ['X-Add', 'v'], ['X-Change', 'new'], ['X-Keep', 'k']])
  })

  t.test('a ? in a rewritten path is escaped, the query kept', async (t) => {
    const route = ext.route({
      plugins: {
        [PRE]: { conf: [runnerPlugin('rewrite', { path: '/p?a=2' })] },
        [POST]: { conf: [runnerPlugin('request-info')] },
      },
    })
    const x = exchangeOf({ url: '/hello?c=foo' })
    const served = await serve(route.pipeline, x, log.logger)
    t.equal(x.url, '/p%3Fa=2?c=foo')
    const info = json(served.response.body)
    t.equal(info.path, '/p%3Fa=2', "post-req is sent $upstream_uri's path")
    t.strictSame(info.args, [['c', 'foo']])
  })

  t.test('the HTTPReqCall as the runner decodes it', async (t) => {
    const route = ext.route({ plugins: { [PRE]: { conf: [runnerPlugin('request-info', { any: 'conf' })] } } })
    const served = await serve(
      route.pipeline,
      exchangeOf({
        method: 'PUT',
        url: '/caf%C3%A9//x%20y?xx=y&xx=z&&y=&&z',
        remoteAddress: '::ffff:10.1.2.3',
        headers: [['Host', 'Example.com'], ['X-Multi', 'a'], ['X-Multi', 'b']],
      }),
      log.logger,
    )
    const info = json(served.response.body)
    t.strictSame(
      { src_ip: info.src_ip, method: info.method, path: info.path, args: info.args, headers: info.headers, conf: info.conf },
      {
        src_ip: '10.1.2.3',
        method: 'PUT',
        path: '/café/x y',
        // Go's url.Values has no key without value: the bare z reads as "".
        args: [['xx', 'y'], ['xx', 'z'], ['y', ''], ['z', '']],
        headers: [['Host', 'Example.com'], ['X-Multi', 'a'], ['X-Multi', 'b']],
        conf: '{"any":"conf"}',
      },
    )
  })

  t.test('Var answers', async (t) => {
    const names = ['remote_addr', 'server_addr', 'server_port', 'uri', 'arg_x', 'arg_z', 'arg_e', 'http_x_foo', 'route_id', 'host', 'nope']
    const route = ext.route({ id: 'go-vars', plugins: { [PRE]: { conf: [runnerPlugin('vars', { names })] } } })
    const served = await serve(route.pipeline, exchangeOf({ url: '/a%20b?x=&z&e=%E2%82%AC', headers: [['Host', 'Example.com:9080'], ['X-Foo', '1'], ['x-foo', '2']] }), log.logger)
    t.strictSame(json(served.response.body), {
      remote_addr: '127.0.0.1',
      server_addr: '127.0.0.1',
      server_port: '9080',
      uri: '/a b',
      arg_x: '',
      arg_z: 'true',
      arg_e: '€',
      http_x_foo: '1, 2',
      route_id: 'go-vars',
      host: 'example.com',
      nope: null,
    })
  })

  t.test('request body echo', async (t) => {
    const route = ext.route({ plugins: { [POST]: { conf: [runnerPlugin('echo-body')] } } })
    const body = Buffer.alloc(64 * 1024)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff
    let served = await serve(route.pipeline, exchangeOf({ method: 'POST', body }), log.logger)
    t.equal(served.response.status, 200)
    t.ok(served.response.body?.equals(body), '64 KiB of every byte value, intact')
    t.equal(served.response.headers.get('x-body-length'), String(body.length))
    served = await serve(route.pipeline, exchangeOf({ method: 'GET' }), log.logger)
    t.equal(served.response.headers.get('x-body-absent'), 'true', 'no body: absent')
    t.equal(served.response.body, undefined)
  })

  t.test('post-resp: status, headers, body', async (t) => {
    const app = { status: 200, headers: [['Content-Type', 'text/plain'], ['X-Up', '1'], ['X-Up', '2']] as Array<[string, string]>, body: 'app body' }
    const change = ext.route({ plugins: { [RESP]: { conf: [runnerPlugin('resp', { status: 418, headers: { 'X-New': 'n' }, read_body: true, append_body: '!' })] } } })
    let served = await serve(change.pipeline, exchangeOf(), log.logger, app)
    t.strictSame(plainResponse(served.response), { status: 418, headers: [['x-new', 'n']], body: 'app body!' }, "the runner's headers are the complete list")

    const info = ext.route({ plugins: { [RESP]: { conf: [runnerPlugin('resp', { info: true, read_body: true, vars: ['uri', 'nope'] })] } } })
    served = await serve(info.pipeline, exchangeOf({ url: '/seen' }), log.logger, app)
    t.equal(served.response.status, 200)
    t.strictSame(json(served.response.body), {
      status: 200,
      headers: [['Content-Type', 'text/plain'], ['X-Up', '1'], ['X-Up', '2']],
      vars: { uri: '/seen', nope: null },
      body: 'app body',
    })

    const keep = ext.route({ plugins: { [RESP]: { conf: [runnerPlugin('noop')] } } })
    served = await serve(keep.pipeline, exchangeOf(), log.logger, app)
    t.strictSame(plainResponse(served.response), { status: 200, headers: app.headers, body: 'app body' }, 'no change: the application response')
    t.strictSame(log.at('error'), [])
  })

  t.test('fail: 503, or degradation', async (t) => {
    const strict = ext.route({ plugins: { [PRE]: { conf: [runnerPlugin('fail')] } } })
    let served = await serve(strict.pipeline, exchangeOf(), log.logger)
    t.strictSame(plainResponse(served.response), PAGE_503)
    t.strictSame(ours(log.lines).filter((l) => !l.startsWith('info ')), ['error failed to receive RPC_HTTP_REQ_CALL: service unavailable', `warn ${PRE} exits with http status code 503`])
    log.lines.length = 0

    const panics = ext.route({ plugins: { [POST]: { conf: [runnerPlugin('fail', { mode: 'panic' })], _meta: { error_response: { error: 'runner' } } } } })
    served = await serve(panics.pipeline, exchangeOf(), log.logger)
    t.strictSame(plainResponse(served.response), { status: 503, headers: [], body: '{"error":"runner"}\n' })
    t.strictSame(ours(log.lines).filter((l) => l.startsWith('error ')), ['error failed to receive RPC_HTTP_REQ_CALL: closed'])
    log.lines.length = 0

    const degrading = ext.route({ plugins: { [PRE]: { conf: [runnerPlugin('fail')], allow_degradation: true } } })
    const x = exchangeOf({ url: '/untouched?a=1' })
    served = await serve(degrading.pipeline, x, log.logger)
    t.equal(served.reachedApp, true)
    t.strictSame(plainResponse(served.response), { status: 200, headers: [['Content-Type', 'text/plain']], body: 'from the app' })
    t.equal(x.url, '/untouched?a=1')
    t.strictSame(ours(log.lines).filter((l) => !l.startsWith('info ')), ['error failed to receive RPC_HTTP_REQ_CALL: service unavailable', 'warn Plugin Runner is wrong, allow degradation'])
    log.lines.length = 0

    const respFail = ext.route({ plugins: { [RESP]: { conf: [runnerPlugin('fail')], allow_degradation: true } } })
    served = await serve(respFail.pipeline, exchangeOf(), log.logger, { status: 201, body: 'kept' })
    t.strictSame(plainResponse(served.response), { status: 201, headers: [['Content-Type', 'text/plain']], body: 'kept' }, 'post-resp degradation')

    // The runner keeps serving afterwards.
    const ok = ext.route({ plugins: { [PRE]: { conf: [runnerPlugin('stop', { status: 200, body: 'alive' })] } } })
    t.equal((await serve(ok.pipeline, exchangeOf(), log.logger)).response.body?.toString(), 'alive')
  })
})
