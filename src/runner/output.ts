// The runner's stdout and stderr, one log entry per line at the level the runner wrote it
// with. APISIX copies runner output into its error log at one level; here a runner's WARN
// stays a warn and its DEBUG a debug, so the application's logger can filter them.
//
// Recognised (the level word right after a leading timestamp, or at the line's start):
//   Go runner (zap console):  2024-01-01T00:00:00.000Z\tINFO\tserver/server.go:200\tlistening to …
//   Java runner (Spring Boot): 2024-01-01 00:00:00.000  WARN 1234 --- [main] o.a.a.… : …
//   Python runner (logging):  2024-01-01 00:00:00,000 - WARNING - …
//   our TypeScript runner:    2024-01-01T00:00:00.000Z WARN message
//   JSON lines (zap's JSON encoder, pino): {"level":"warn",…} or {"level":40,…}
// Stack trace lines continue the entry before them and keep its level (logOutput). Anything
// else is info.
import type { Logger } from '../logger.js'

export type OutputLevel = 'debug' | 'info' | 'warn' | 'error'

const WORDS: Readonly<Record<string, OutputLevel>> = {
  TRACE: 'debug',
  DEBUG: 'debug',
  FINE: 'debug',
  INFO: 'info',
  NOTICE: 'info',
  WARN: 'warn',
  WARNING: 'warn',
  ERROR: 'error',
  ERR: 'error',
  SEVERE: 'error',
  CRITICAL: 'error',
  FATAL: 'error',
  PANIC: 'error',
  DPANIC: 'error',
}

// An ISO-8601 or log4j/logging-style date and time, with fractions and a zone if any;
// `2024/01/01 00:00:00` (Go's log package) too.
const TIMESTAMP = String.raw`\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?`
// After the timestamp: separators (tab, spaces, ` - `, `|`), maybe a `[`; then the word,
// which must end there (so `Debugger listening…` is not DEBUG).
const LEVEL_AT = new RegExp(String.raw`^(?:${TIMESTAMP})?[\s\-|:]*\[?([A-Za-z]{3,8})(?=$|[\s\]:|\-,])`)
const JSON_LEVEL = /"(?:level|severity)"\s*:\s*(?:"([A-Za-z]+)"|(\d+))/
// pino's numeric levels
const PINO: ReadonlyArray<readonly [number, OutputLevel]> = [
  [50, 'error'],
  [40, 'warn'],
  [30, 'info'],
  [0, 'debug'],
]

/** The level a runner's line was written at, or undefined when it names none. */
export function lineLevel(line: string): OutputLevel | undefined {
  if (line.startsWith('{')) {
    const json = JSON_LEVEL.exec(line)
    if (json === null) return undefined
    if (json[1] !== undefined) return WORDS[json[1].toUpperCase()]
    const n = Number(json[2])
    return PINO.find(([min]) => n >= min)![1]
  }
  const match = LEVEL_AT.exec(line)
  return match === null ? undefined : WORDS[match[1]!.toUpperCase()]
}

/** The last lines a runner printed, bounded, for errors and health(). */
export class OutputTail {
  readonly #lines: string[] = []
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  push(line: string): void {
    this.#lines.push(line)
    if (this.#lines.length > this.#max) this.#lines.shift()
  }

  clear(): void {
    this.#lines.length = 0
  }

  lines(): string[] {
    return [...this.#lines]
  }
}

/** Longest line kept in the tail; a runner that prints megabytes without a newline is cut. */
const MAX_TAIL_LINE = 2000
/** Characters without a newline logged as one line anyway. */
const MAX_PARTIAL = 64 * 1024
// A stack trace's own lines: Go's `pkg/path.(*T).Func`, Java's `java.lang.IllegalStateException: …`
// and `Caused by: …`, Python's `Traceback (most recent call last):`.
const STACK_LINE = /^(?:\S+$|[\w$.]+(?:Exception|Error|Throwable)\b|Caused by:|Traceback \(|\.\.\. \d+ more)/

/**
 * Logs every line of `stream` at its own level as `runner <pid>: <line>`, fields `{ pid }`.
 * A line without a level of its own continues the entry before it (and takes its level)
 * when it starts with white space, or when it looks like a stack trace's line and came in
 * the same write: zap and logback write an entry and its stack trace at once.
 */
export function logOutput(stream: NodeJS.ReadableStream | null, pid: number | undefined, logger: Logger, tail: OutputTail): void {
  if (stream === null) return
  // The pipe alone must not keep Node alive.
  ;(stream as NodeJS.ReadableStream & { unref?: () => void }).unref?.()
  stream.setEncoding('utf8')
  const fields = { pid }
  let previous: OutputLevel = 'info'
  let partial = ''
  const emit = (line: string, sameWrite: boolean): void => {
    if (line.endsWith('\r')) line = line.slice(0, -1)
    tail.push(line.length > MAX_TAIL_LINE ? line.slice(0, MAX_TAIL_LINE) : line)
    let level = lineLevel(line)
    if (level === undefined) {
      const continues = (/^\s/.test(line) && line.trim() !== '') || (sameWrite && STACK_LINE.test(line))
      level = continues ? previous : 'info'
    }
    previous = level
    logger[level](fields, `runner ${pid}: ${line}`)
  }
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop()!
    lines.forEach((line, i) => emit(line, i > 0))
    // a runner that never ends its line must not grow this without bound
    if (partial.length > MAX_PARTIAL) {
      emit(partial, false)
      partial = ''
    }
  })
  stream.on('end', () => {
    if (partial !== '') emit(partial, false)
    partial = ''
  })
}
