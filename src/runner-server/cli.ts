// `apisix-ext-plugin-runner [options] <plugins-module>`: what the bin script runs. It
// imports the plugins module, listens where APISIX_LISTEN_ADDRESS says, logs to stderr
// (APISIX copies the runner's output into its error log), and on SIGTERM or SIGINT lets
// in-flight calls finish for a moment, removes its socket and exits 0 (APISIX sends
// SIGTERM and SIGKILLs after 1 s, protocol.md §8).
//
// The module is imported by the bin script (`importModule`): a native import() that takes
// ESM, CommonJS, and TypeScript under tsx, which this file, also compiled to CommonJS,
// could not promise.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs as parseArgv } from 'node:util'
import type { LogFields, Logger } from '../logger.js'
import { describe } from './confs.js'
import { createRunner, type Runner } from './runner.js'
import type { RunnerPlugin, RunnerPlugins } from './types.js'

export interface CliHost {
  /** import() from the bin script. */
  importModule(url: string): Promise<unknown>
  /** Resolves a bare specifier the working directory cannot (e.g. this package's own demo). */
  resolveFallback?(specifier: string): string
  /** Default: process.stderr. */
  write?(text: string): void
  /** Default: process.cwd(). */
  readonly cwd?: string
  /** The package's version, for --version (the bin reads its package.json). */
  readonly version?: string
}

/** A failure the user can fix; the bin prints its message and exits with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError'
  readonly exitCode: number

  constructor(message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

export const USAGE = `usage: apisix-ext-plugin-runner [options] <plugins-module>

Runs APISIX external plugins written in JavaScript or TypeScript. The module exports its
plugins as the default export or as \`plugins\`: an array of them, or an object of them.
A .ts module needs a TypeScript loader: tsx, installed where the module or this package
can find it. The runner listens on APISIX_LISTEN_ADDRESS (unix:/path) and keeps confs
1.2 × APISIX_CONF_EXPIRE_TIME seconds, as APISIX sets them.

options:
  --log-level=<level>  debug, info (default), warn or error; logs go to stderr. Also
                       APISIX_EXT_PLUGIN_RUNNER_LOG_LEVEL.
  --strict             a conf naming an unknown plugin, or one its plugin cannot parse,
                       fails the PrepareConf (the gateway answers 503) instead of being
                       skipped with a log line
  -v, --version        prints the version
  -h, --help           prints this text`

export const LOG_LEVEL_ENV = 'APISIX_EXT_PLUGIN_RUNNER_LOG_LEVEL'

const LEVELS = ['debug', 'info', 'warn', 'error'] as const
type Level = (typeof LEVELS)[number]

/** Milliseconds in-flight calls get after SIGTERM; APISIX SIGKILLs after 1000. */
const STOP_GRACE_MS = 800

/** One line per message on stderr: `2025-01-01T00:00:00.000Z WARN message`. */
export function stderrLogger(level: Level, write: (text: string) => void): Logger {
  const min = LEVELS.indexOf(level)
  const at = (l: Level) =>
    LEVELS.indexOf(l) < min
      ? () => {}
      : (fields: LogFields, message: string) => write(`${new Date().toISOString()} ${l.toUpperCase()} ${message}${formatFields(fields)}\n`)
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/** ` key=value` pairs after the message; an Error shows its message. */
function formatFields(fields: LogFields): string {
  let text = ''
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue
    text += ` ${key}=${value instanceof Error ? JSON.stringify(value.message) : JSON.stringify(value)}`
  }
  return text
}

export interface CliArgs {
  readonly level: string | undefined
  readonly strict: boolean
  readonly module: string
}

/** The command line; --help and --version are thrown as CliErrors with exit code 0. */
export function parseCliArgs(argv: readonly string[], version = 'unknown'): CliArgs {
  let parsed
  try {
    parsed = parseArgv({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'log-level': { type: 'string' },
        strict: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (err) {
    // parseArgs's own text suggests `--`, which is not how this command is used.
    const unknown = (err as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec(describe(err)) : null
    throw new CliError(`${unknown ? `unknown option ${unknown[1]}` : describe(err)}\n${USAGE}`, 2)
  }
  const { values, positionals } = parsed
  if (values.help === true) throw new CliError(USAGE, 0)
  if (values.version === true) throw new CliError(version, 0)
  if (positionals.length !== 1) throw new CliError(`expected one plugins module, got ${positionals.length}\n${USAGE}`, 2)
  return { level: values['log-level'], strict: values.strict === true, module: positionals[0]! }
}

function checkLevel(level: string): Level {
  if ((LEVELS as readonly string[]).includes(level)) return level as Level
  throw new CliError(`unknown log level ${JSON.stringify(level)}: use one of ${LEVELS.join(', ')}`, 2)
}

/** A URL import() can load: paths are taken from `cwd`, bare names as packages from `cwd`. */
export function resolvePluginsModule(spec: string, cwd: string, fallback?: (spec: string) => string): string {
  if (spec.startsWith('file:')) return spec
  const path = resolve(cwd, spec)
  if (isAbsolute(spec) || spec.startsWith('.') || existsSync(path)) return pathToFileURL(path).href
  try {
    return pathToFileURL(createRequire(join(cwd, 'index.js')).resolve(spec)).href
  } catch (err) {
    if (fallback !== undefined) {
      try {
        return fallback(spec)
      } catch {
        // Report the first failure: it names the working directory.
      }
    }
    throw new CliError(`cannot find the plugins module ${spec} from ${cwd}: ${describe(err)}`)
  }
}

const TYPESCRIPT = /\.[cm]?ts$/
// What `node --import tsx` loads: importing it registers tsx's hooks for later imports.
// (Its register() API resolves, through require, to a CommonJS build that cannot do that.)
const TS_LOADER = 'tsx'

function loadFailure(spec: string, err: unknown): CliError {
  const stack = err instanceof Error && err.stack ? `\n${err.stack}` : ''
  return new CliError(`cannot load the plugins module ${spec}: ${describe(err)}${stack}`)
}

/**
 * Where tsx's loader is, looked for from the module's directory, the working
 * directory, then this package; undefined when none has it.
 */
export function resolveTypeScriptLoader(moduleUrl: string, cwd: string, fallback?: (spec: string) => string): string | undefined {
  const from = moduleUrl.startsWith('file:') ? [new URL('.', moduleUrl).pathname, cwd] : [cwd]
  for (const dir of from) {
    try {
      return pathToFileURL(createRequire(join(dir, 'index.js')).resolve(TS_LOADER)).href
    } catch {
      // Not from here; try the next place.
    }
  }
  try {
    return fallback?.(TS_LOADER)
  } catch {
    return undefined
  }
}

/**
 * Imports the plugins module. A .ts module that Node cannot load by itself is loaded
 * through tsx, registered in this process (no second process for APISIX to lose track
 * of), when tsx can be found; otherwise the error says what to install.
 */
async function importPlugins(url: string, spec: string, cwd: string, host: CliHost): Promise<unknown> {
  try {
    return await host.importModule(url)
  } catch (err) {
    const unknownExtension = (err as { code?: unknown } | null)?.code === 'ERR_UNKNOWN_FILE_EXTENSION'
    if (!unknownExtension || !TYPESCRIPT.test(new URL(url).pathname)) throw loadFailure(spec, err)
  }
  const loader = resolveTypeScriptLoader(url, cwd, host.resolveFallback)
  if (loader === undefined) {
    throw new CliError(
      `cannot load the plugins module ${spec}: a TypeScript module needs a loader, and tsx was not found ` +
        `from ${cwd} or this package. Install it (npm install tsx) where the module is, ` +
        'or compile the module to JavaScript and pass the .js file',
    )
  }
  try {
    await host.importModule(loader)
  } catch (err) {
    throw new CliError(`cannot load the plugins module ${spec}: registering tsx failed: ${describe(err)}`)
  }
  try {
    // A new URL: Node keeps the failed import of the first one and would repeat its error.
    return await host.importModule(`${url}${url.includes('?') ? '&' : '?'}loader=tsx`)
  } catch (err) {
    throw loadFailure(spec, err)
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const isPlugin = (v: unknown): v is RunnerPlugin<unknown> => isObject(v) && typeof v.name === 'string'

function asPlugins(candidate: unknown): RunnerPlugins | undefined {
  if (Array.isArray(candidate)) return candidate.length > 0 && candidate.every(isPlugin) ? candidate : undefined
  if (!isObject(candidate) || isPlugin(candidate)) return undefined
  const values = Object.values(candidate)
  return values.length > 0 && values.every(isPlugin) ? (candidate as Record<string, RunnerPlugin<unknown>>) : undefined
}

/**
 * The plugins a module exports: named `plugins`, else the default export, each an array or
 * an object of plugins. CommonJS shapes (`module.exports = …`, a compiled `exports.default`)
 * are found through the default export.
 */
export function pluginsFromModule(namespace: unknown, spec: string): RunnerPlugins {
  const candidates: unknown[] = []
  if (isObject(namespace)) {
    candidates.push(namespace.plugins)
    const fallback = namespace.default
    if (isObject(fallback) && !Array.isArray(fallback)) candidates.push(fallback.plugins, fallback.default)
    candidates.push(fallback)
  }
  for (const candidate of candidates) {
    const plugins = asPlugins(candidate)
    if (plugins !== undefined) return plugins
  }
  throw new CliError(
    `${spec} exports no plugins: export them as the default export or as \`plugins\`, ` +
      'an array of plugins ({ name, requestFilter?, responseFilter?, parseConf? }) or an object of them',
  )
}

/**
 * Starts the runner: resolves once it listens (the server keeps the process alive). Throws
 * a CliError (or the runner's error) when it cannot start.
 */
export async function runCli(argv: readonly string[], host: CliHost): Promise<Runner> {
  const write = host.write ?? ((text: string) => void process.stderr.write(text))
  const args = parseCliArgs(argv, host.version)
  const logger = stderrLogger(checkLevel(args.level ?? process.env[LOG_LEVEL_ENV] ?? 'info'), write)
  const cwd = host.cwd ?? process.cwd()
  const url = resolvePluginsModule(args.module, cwd, host.resolveFallback)
  const namespace = await importPlugins(url, args.module, cwd, host)
  const runner = createRunner({ plugins: pluginsFromModule(namespace, args.module), logger, strict: args.strict })

  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal: no more waiting.
      runner.destroy()
      process.exit(0)
    }
    stopping = true
    logger.info({ signal }, `received ${signal}, closing`)
    const grace = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())
    void Promise.race([runner.close(), grace]).then(() => {
      runner.destroy()
      process.exit(0)
    })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // process.exit() from a plugin, or a crash: still remove the socket file.
  process.on('exit', () => runner.destroy())

  await runner.listen()
  return runner
}
