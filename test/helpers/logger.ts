// A logger for tests: keeps every entry, as the library logs it (fields first, message
// second) and as a line `<level> <message>` for the tests that match on text.
import type { LogFields, Logger } from '../../src/logger.js'

export type Level = 'debug' | 'info' | 'warn' | 'error'

export interface LogEntry {
  readonly level: Level
  readonly fields: LogFields
  readonly message: string
}

export interface RecordingLogger extends Logger {
  readonly entries: LogEntry[]
  /** Every entry as `<level> <message>`. */
  readonly lines: string[]
  /** The messages logged at `level`, in order. */
  at(level: Level): string[]
  has(level: Level, text: string | RegExp): boolean
}

export function recordingLogger(onEntry?: (entry: LogEntry) => void): RecordingLogger {
  const entries: LogEntry[] = []
  const lines: string[] = []
  const log = (level: Level) => (fields: LogFields, message: string) => {
    const entry = { level, fields, message }
    entries.push(entry)
    lines.push(`${level} ${message}`)
    onEntry?.(entry)
  }
  return {
    entries,
    lines,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    // Read from `lines`, so a test that empties `lines` starts these over too.
    at: (level) => lines.filter((l) => l.startsWith(`${level} `)).map((l) => l.slice(level.length + 1)),
    has: (level, text) =>
      lines.some((l) => l.startsWith(`${level} `) && (typeof text === 'string' ? l.includes(text) : text.test(l.slice(level.length + 1)))),
  }
}
