// `node --import tsx examples/otel/app.ts [--port N]`: a node:http app whose runner calls
// become OpenTelemetry spans, children of each request's server span, printed as they end.
// The runner is the TypeScript runner with its demo plugins, started as APISIX would.
import http from 'node:http'
import { createRequire } from 'node:module'
import { context, SpanKind, trace } from '@opentelemetry/api'
import { createExtPlugin } from 'apisix-ext-plugin'
import { withExtPlugin } from 'apisix-ext-plugin/http'
import { AsyncLocalContextManager } from './context-manager.js'
import { MemoryTracerProvider } from './memory-tracer.js'
import { traceRunnerCalls } from './runner-spans.js'

const portAt = process.argv.indexOf('--port')
const port = portAt >= 0 ? Number(process.argv[portAt + 1]) : 8080

// What an application does once with the SDK (a provider with an exporter, a context manager).
context.setGlobalContextManager(new AsyncLocalContextManager())
const provider = new MemoryTracerProvider((span) => {
  const parent = span.parentSpanId === undefined ? '' : ` (child of ${span.parentSpanId})`
  console.log(`span ${span.name} ${span.duration.toFixed(2)} ms ${span.spanId}${parent}`, span.attributes)
})
trace.setGlobalTracerProvider(provider)
const tracer = trace.getTracer('otel-example')
traceRunnerCalls(tracer)

const bin = createRequire(import.meta.url).resolve('apisix-ext-plugin/package.json').replace(/package\.json$/, 'bin/apisix-ext-plugin-runner.mjs')
const ext = createExtPlugin({ runner: { cmd: [process.execPath, bin, 'apisix-ext-plugin/runner/demo'] } })
await ext.ready()

const listener = withExtPlugin(
  ext,
  {
    id: 'api',
    plugins: {
      'ext-plugin-pre-req': { conf: [{ name: 'auth', value: JSON.stringify({ header: 'x-api-key', keys: ['s3cret'] }) }] },
      'ext-plugin-post-resp': { conf: [{ name: 'redact', value: JSON.stringify({ patterns: ['\\d{4}-\\d{4}-\\d{4}-\\d{4}'] }) }] },
    },
  },
  (_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ order: 42, card: '4111-1111-1111-1111' }))
  },
)

// The server span the runner spans hang under: with the SDK's http instrumentation this
// comes for free; here it is made by hand.
const server = http.createServer((req, res) => {
  tracer.startActiveSpan(`${req.method} ${req.url}`, { kind: SpanKind.SERVER }, (span) => {
    res.once('finish', () => {
      span.setAttribute('http.response.status_code', res.statusCode)
      span.end()
    })
    listener(req, res)
  })
})
server.listen(port, () => {
  console.log(`otel example on http://localhost:${port}. Try:

  curl -i http://localhost:${port}/orders                          # auth answers 401: one runner span (outcome stop)
  curl -i -H 'x-api-key: s3cret' http://localhost:${port}/orders   # two runner spans: pre-req (ok), post-resp (rewrite: the card redacted)

Ctrl-C stops the app and the runner.`)
})
process.once('SIGINT', async () => {
  server.close()
  await ext.close()
  process.exit(0)
})
