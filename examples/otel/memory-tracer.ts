// A recording tracer for the example and its test: spans kept in memory (and handed to
// `onEnd`) instead of exported. In an application, use the OpenTelemetry SDK's provider
// and an exporter; the runner-call subscriber (runner-spans.ts) stays the same.
import { randomBytes } from 'node:crypto'
import {
  context as contextApi,
  trace,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type Context,
  type Exception,
  type Link,
  type Span,
  type SpanAttributeValue,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api'

/** What a finished span recorded. */
export interface FinishedSpan {
  readonly name: string
  readonly kind: SpanKind
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Attributes
  readonly status: SpanStatus
  readonly exceptions: readonly string[]
  /** Milliseconds. */
  readonly duration: number
}

class RecordingSpan implements Span {
  readonly #context: SpanContext
  readonly #started = performance.now()
  readonly #onEnd: (span: FinishedSpan) => void
  readonly #parent: string | undefined
  readonly #kind: SpanKind
  #name: string
  #attributes: Attributes
  #status: SpanStatus = { code: SpanStatusCode.UNSET }
  #exceptions: string[] = []
  #ended = false

  constructor(name: string, options: SpanOptions, parent: SpanContext | undefined, onEnd: (span: FinishedSpan) => void) {
    this.#name = name
    this.#kind = options.kind ?? SpanKind.INTERNAL
    this.#attributes = { ...options.attributes }
    this.#parent = parent?.spanId
    this.#context = { traceId: parent?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED }
    this.#onEnd = onEnd
  }

  spanContext(): SpanContext {
    return this.#context
  }
  setAttribute(key: string, value: SpanAttributeValue): this {
    this.#attributes[key] = value
    return this
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.#attributes, attributes)
    return this
  }
  addEvent(): this {
    return this
  }
  addLink(_link: Link): this {
    return this
  }
  addLinks(_links: Link[]): this {
    return this
  }
  setStatus(status: SpanStatus): this {
    this.#status = status
    return this
  }
  updateName(name: string): this {
    this.#name = name
    return this
  }
  isRecording(): boolean {
    return !this.#ended
  }
  recordException(exception: Exception): void {
    this.#exceptions.push(typeof exception === 'string' ? exception : (exception.message ?? String(exception.name)))
  }
  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#onEnd({
      name: this.#name,
      kind: this.#kind,
      traceId: this.#context.traceId,
      spanId: this.#context.spanId,
      parentSpanId: this.#parent,
      attributes: this.#attributes,
      status: this.#status,
      exceptions: this.#exceptions,
      duration: performance.now() - this.#started,
    })
  }
}

export class MemoryTracerProvider implements TracerProvider {
  readonly finished: FinishedSpan[] = []
  readonly #onEnd: ((span: FinishedSpan) => void) | undefined

  constructor(onEnd?: (span: FinishedSpan) => void) {
    this.#onEnd = onEnd
  }

  getTracer(): Tracer {
    const record = (span: FinishedSpan): void => {
      this.finished.push(span)
      this.#onEnd?.(span)
    }
    const startSpan = (name: string, options: SpanOptions = {}, context: Context = contextApi.active()): Span =>
      new RecordingSpan(name, options, options.root === true ? undefined : trace.getSpanContext(context), record)
    // startActiveSpan(name, [options, [context,]] fn): the span is active while fn runs
    const startActiveSpan = ((name: string, ...rest: unknown[]) => {
      const fn = rest.pop() as (span: Span) => unknown
      const options = rest[0] as SpanOptions | undefined
      const parent = (rest[1] as Context | undefined) ?? contextApi.active()
      const span = startSpan(name, options, parent)
      return contextApi.with(trace.setSpan(parent, span), fn, undefined, span)
    }) as Tracer['startActiveSpan']
    return { startSpan, startActiveSpan }
  }
}
