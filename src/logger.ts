// The library never writes to the console itself. Give it `console`, a pino logger, or
// anything with these four methods; by default it says nothing.
export interface Logger {
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

const nothing = (): void => {}

export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing }

/** Fills in what a partial logger lacks, so callers never test for a method. */
export function toLogger(logger: Partial<Logger> | undefined): Logger {
  if (logger === undefined) return silentLogger
  const bind = (level: keyof Logger) =>
    typeof logger[level] === 'function' ? (logger[level] as (m: string) => void).bind(logger) : nothing
  return { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') }
}
