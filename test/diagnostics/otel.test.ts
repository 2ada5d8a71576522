// The OpenTelemetry example's subscriber (examples/otel/runner-spans.ts) with its recording
// tracer: runner calls through real HTTP and a real runner become CLIENT spans, children of
// the request's span, carrying the call's context.
import http from 'node:http'
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import t from 'tap'
import { request } from 'undici'
import { withExtPlugin } from '../../adapters/http.js'
import { AsyncLocalContextManager } from '../../examples/otel/context-manager.js'
import { MemoryTracerProvider } from '../../examples/otel/memory-tracer.js'
import { traceRunnerCalls } from '../../examples/otel/runner-spans.js'
import { setup } from './support.js'

t.setTimeout(30_000)

t.test('runner calls become child spans of the request span', async (t) => {
  const manager = new AsyncLocalContextManager()
  context.setGlobalContextManager(manager)
  t.teardown(() => context.disable())
  const provider = new MemoryTracerProvider()
  const tracer = provider.getTracer()
  t.teardown(traceRunnerCalls(tracer))

  const { ext } = await setup(t)
  const listener = withExtPlugin(
    ext,
    {
      id: 'traced',
      plugins: {
        'ext-plugin-pre-req': { conf: [{ name: 'ask', value: '{}' }, { name: 'deny', value: '{}' }] },
        'ext-plugin-post-req': { conf: [{ name: 'boom', value: '{}' }], allow_degradation: true },
        'ext-plugin-post-resp': { conf: [{ name: 'stamp', value: '{}' }] },
      },
    },
    (_req, res) => res.end('ok'),
  )
  const server = http.createServer((req, res) => {
    tracer.startActiveSpan(`${req.method} ${req.url}`, { kind: SpanKind.SERVER }, (span) => {
      res.once('finish', () => span.end())
      listener(req, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as { port: number }

  const response = await request(`http://127.0.0.1:${port}/orders`)
  t.equal(response.statusCode, 200)
  await response.body.text()
  for (let i = 0; i < 100 && provider.finished.length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 10))

  const [pre, post, resp, root] = provider.finished
  t.match(root, { name: 'GET /orders', kind: SpanKind.SERVER, parentSpanId: undefined })
  t.match(pre, {
    name: 'ext-plugin-pre-req RPC_HTTP_REQ_CALL',
    kind: SpanKind.CLIENT,
    parentSpanId: root!.spanId,
    traceId: root!.traceId,
    status: { code: SpanStatusCode.UNSET },
    attributes: {
      'apisix.route.id': 'traced',
      'apisix.phase': 'rewrite',
      'apisix.ext_plugin.names': ['ask', 'deny'],
      'apisix.ext_plugin.outcome': 'ok',
      'apisix.ext_plugin.extra_info_rounds': 2,
      'apisix.ext_plugin.attempts': 1,
    },
  })
  t.match(pre!.attributes['apisix.ext_plugin.conf_key'], /^route#traced#ext-plugin-pre-req#/)
  t.ok((pre!.attributes['apisix.ext_plugin.bytes_sent'] as number) > 0)
  t.ok((pre!.attributes['apisix.ext_plugin.bytes_received'] as number) > 0)
  t.match(post, {
    name: 'ext-plugin-post-req RPC_HTTP_REQ_CALL',
    parentSpanId: root!.spanId,
    status: { code: SpanStatusCode.ERROR, message: 'EXT_ERR_RUNNER_REPLIED_ERROR' },
    attributes: { 'apisix.phase': 'access', 'apisix.ext_plugin.outcome': 'error', 'error.type': 'EXT_ERR_RUNNER_REPLIED_ERROR' },
  })
  t.equal(post!.exceptions.length, 1, 'the failure recorded on the span (the request went on: allow_degradation)')
  t.match(resp, {
    name: 'ext-plugin-post-resp RPC_HTTP_RESP_CALL',
    parentSpanId: root!.spanId,
    attributes: { 'apisix.phase': 'response', 'apisix.ext_plugin.outcome': 'rewrite' },
  })
})
