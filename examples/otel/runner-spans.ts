// Runner calls as OpenTelemetry spans: a subscriber to the `apisix-ext-plugin:runner-call`
// tracing channel opens a CLIENT span at `start` (which runs inside the request's async
// context, so the span's parent is the request's span) and closes it at `asyncEnd` with what
// the call did. Works with any tracer: the OpenTelemetry SDK's, or memory-tracer.ts here.
import { tracingChannel } from 'node:diagnostics_channel'
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api'
import type { RunnerCallContext } from 'apisix-ext-plugin'

/** Subscribes; returns the function that unsubscribes. */
export function traceRunnerCalls(tracer: Tracer): () => void {
  const channel = tracingChannel<RunnerCallContext>('apisix-ext-plugin:runner-call')
  const spans = new WeakMap<RunnerCallContext, Span>()
  const handlers = {
    start(call: RunnerCallContext) {
      const span = tracer.startSpan(
        `${call.plugin ?? 'ext-plugin'} ${call.messageType}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'apisix.route.id': call.route ?? '',
            'apisix.phase': call.phase,
            'apisix.ext_plugin.conf_key': call.confKey,
            'apisix.ext_plugin.names': [...call.names],
          },
        },
        context.active(),
      )
      spans.set(call, span)
    },
    end() {},
    asyncStart() {},
    error(call: RunnerCallContext) {
      const span = spans.get(call)
      if (span === undefined) return
      span.recordException(call.error instanceof Error ? call.error : String(call.error))
      span.setStatus({ code: SpanStatusCode.ERROR, message: call.code })
    },
    asyncEnd(call: RunnerCallContext) {
      const span = spans.get(call)
      if (span === undefined) return
      spans.delete(call)
      span.setAttributes({
        'apisix.ext_plugin.outcome': call.outcome ?? 'error',
        'apisix.ext_plugin.extra_info_rounds': call.extraInfoRounds,
        'apisix.ext_plugin.attempts': call.attempts,
        'apisix.ext_plugin.bytes_sent': call.bytesSent,
        'apisix.ext_plugin.bytes_received': call.bytesReceived,
      })
      if (call.code !== undefined) span.setAttribute('error.type', call.code)
      span.end()
    },
  }
  channel.subscribe(handlers)
  return () => channel.unsubscribe(handlers)
}

/** The span of the current request, if any (for logs that want its trace id). */
export function activeSpan(): Span | undefined {
  return trace.getSpan(context.active())
}
