// The library never writes to the console itself. Give it `console`, a pino logger, or
// anything with these four methods; by default it says nothing.
//
// Every call passes an object of fields first and a message second (pino's convention), so a
// structured logger indexes `route`, `plugin`, `phase`, `method`, `url`, `code`… while the
// message stays a sentence. `console` is given the message first, then the fields.

/** What a log entry is about. Keys in use: route, plugin, phase, method, url, code, pid, file, key, err. */
export type LogFields = Readonly<Record<string, unknown>>

export interface Logger {
  debug(fields: LogFields, message: string): void
  info(fields: LogFields, message: string): void
  warn(fields: LogFields, message: string): void
  error(fields: LogFields, message: string): void
}

type Level = keyof Logger

const nothing = (): void => {}

export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing }

/** Fills in what a partial logger lacks, so callers never test for a method. */
export function toLogger(logger: Partial<Logger> | Console | undefined): Logger {
  if (logger === undefined) return silentLogger
  if (logger === globalThis.console) return consoleLogger(logger as Console)
  const target = logger as Partial<Logger>
  const bind = (level: Level) =>
    typeof target[level] === 'function' ? (target[level] as Logger[Level]).bind(target) : nothing
  return { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') }
}

/** `console.warn('message', { fields })`: the sentence first, where a reader looks. */
function consoleLogger(console: Console): Logger {
  const write = (level: Level) => (fields: LogFields, message: string) => {
    if (Object.keys(fields).length === 0) console[level](message)
    else console[level](message, fields)
  }
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}

/** The `err` field of an entry: an Error keeps its stack for a structured logger. */
export function errorFields(err: unknown): { err: unknown; code?: string } {
  const code = typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined
  return code === undefined ? { err } : { err, code }
}
