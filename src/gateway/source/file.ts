// The standalone file (apisix-config.md §7): apisix.yaml (with its `#END` marker), apisix.json,
// and a6's `config sync` files (§7.4), read, substituted, validated whole; and a watcher that
// re-reads a changed file and hands back a new snapshot, or an error while the old one stays.
import { createHash } from 'node:crypto'
import { readFileSync, watch as fsWatch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { ConfigError, ErrorCode } from '../../errors.js'
import type { ConfigSnapshot } from '../config/types.js'
import { validateConfig, type ValidateOptions } from '../config/validate.js'

/** A path to a YAML or JSON file, or a configuration object of the same shape. */
export type ConfigSource = string | Readonly<Record<string, unknown>>

/** Reads (if a path), parses and validates; throws ConfigError naming the file, object and field. */
export async function loadConfig(source: ConfigSource, options: ValidateOptions = {}): Promise<ConfigSnapshot> {
  if (typeof source !== 'string') return validateConfig(source, options)
  const text = await readText(source)
  return parseConfigText(text, source, options)
}

/** The synchronous core of loadConfig for text already read (`file` names it in errors). */
export function parseConfigText(text: string, file: string, options: ValidateOptions = {}): ConfigSnapshot {
  const object = parseConfigObject(text, file)
  try {
    return validateConfig(object, options)
  } catch (err) {
    throw inFile(err, file)
  }
}

/** Text → the standalone-shaped object: format detected, variables substituted, a6 converted. */
export function parseConfigObject(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const json = /\.json$/i.test(file) || /^\s*[[{]/.test(text)
  let value: unknown
  try {
    value = json ? substituteJson(JSON.parse(text), env) : parseYaml(substituteText(text, env))
  } catch (err) {
    if (err instanceof ConfigError) throw inFile(err, file)
    throw new ConfigError(ErrorCode.INVALID_CONFIG, `${file}: failed to parse the content of file: ${(err as Error).message}`, '')
  }
  if (value === null || value === undefined) value = {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(ErrorCode.INVALID_CONFIG, `${file}: the configuration must be an object`, '')
  }
  const object = value as Record<string, unknown>
  if ('version' in object) return fromA6(object, file)
  // A YAML standalone file is complete only with its marker: a half-written one is refused.
  if (!json && !/#END\s*$/.test(text.slice(-10))) {
    throw new ConfigError(ErrorCode.INVALID_CONFIG, `missing valid end flag in file ${file}`, '')
  }
  return object
}

const VARIABLE = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::=\s*([^}]*?))?\s*\}\}/g

/** `${{VAR}}` / `${{VAR:=default}}` in raw text (YAML: before parsing, so quoting decides the type). */
export function substituteText(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(VARIABLE, (_, name: string, fallback: string | undefined) => {
    const value = env[name]
    if (value !== undefined) return value
    if (fallback !== undefined) return fallback
    throw new ConfigError(ErrorCode.INVALID_CONFIG, `can't find environment variable ${name}`, '')
  })
}

/** JSON: substituted after parsing; a string that was one variable may become a number or boolean. */
function substituteJson(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${{')) return value
    const out = substituteText(value, env)
    VARIABLE.lastIndex = 0
    const whole = new RegExp(`^${VARIABLE.source}$`).test(value)
    if (whole) {
      if (out === 'true') return true
      if (out === 'false') return false
      if (out.trim() !== '' && Number.isFinite(Number(out))) return Number(out)
    }
    return out
  }
  if (Array.isArray(value)) return value.map((v) => substituteJson(v, env))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [substituteText(k, env), substituteJson(v, env)]))
  }
  return value
}

/** a6's sync file to the standalone shape: no `version`, `ssl` → `ssls`, `plugin_name` → `id`. */
function fromA6(object: Record<string, unknown>, file: string): Record<string, unknown> {
  if (object.version !== '1') {
    throw new ConfigError(ErrorCode.INVALID_CONFIG, `${file}: version must be "1"`, 'version')
  }
  const { version: _version, ssl, plugin_metadata: metadata, ...rest } = object
  const out: Record<string, unknown> = { ...rest }
  if (ssl !== undefined) out.ssls = ssl
  if (Array.isArray(metadata)) {
    out.plugin_metadata = metadata.map((item: unknown) => {
      if (typeof item !== 'object' || item === null) return item
      const { plugin_name: name, ...body } = item as Record<string, unknown>
      return name === undefined ? body : { id: name, ...body }
    })
  } else if (metadata !== undefined) out.plugin_metadata = metadata
  return out
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(ErrorCode.INVALID_CONFIG, `${file}: ${(err as Error).message}`, '')
  }
}

function inFile(err: unknown, file: string): unknown {
  if (!(err instanceof ConfigError) || err.message.includes(file)) return err
  return new ConfigError(err.code, `${file}: ${err.message}`, err.path, err.plugin)
}

export type WatchResult = { readonly snapshot: ConfigSnapshot; readonly error?: undefined } | { readonly snapshot?: undefined; readonly error: Error }

export interface WatchOptions extends ValidateOptions {
  /** Quiet time after the last change before the file is read again, in ms (default 100). */
  readonly debounce?: number
}

export interface ConfigWatcher {
  close(): void
}

type WatchState = 'idle' | 'waiting' | 'reading' | 'reading-dirty' | 'closed'

/**
 * Calls `onChange` after each change of `file` whose content differs from the last
 * successfully loaded one: with the new snapshot, or with the error (invalid, half-written,
 * no `#END`); on an error the caller keeps its running snapshot. The directory is watched,
 * so editors that save by renaming a new file over the old one are seen too.
 */
export function watchConfig(file: string, onChange: (result: WatchResult) => void, options: WatchOptions = {}): ConfigWatcher {
  const path = resolve(file)
  const name = basename(path)
  const delay = options.debounce ?? 100
  let state: WatchState = 'idle'
  const closed = (): boolean => state === 'closed'
  let timer: NodeJS.Timeout | undefined
  let lastHash: string | undefined
  let lastFailedHash: string | undefined

  const reload = async (): Promise<void> => {
    state = 'reading'
    let text: string | undefined
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      text = undefined
      if (!closed()) onChange({ error: new ConfigError(ErrorCode.INVALID_CONFIG, `${file}: ${(err as Error).message}`, '') })
    }
    if (text !== undefined && !closed()) {
      const hash = createHash('sha256').update(text).digest('hex')
      // mtime has a one-second grain in APISIX's loader; the content hash does not miss edits
      if (hash !== lastHash && hash !== lastFailedHash) {
        try {
          const snapshot = parseConfigText(text, file, options)
          lastHash = hash
          lastFailedHash = undefined
          onChange({ snapshot })
        } catch (err) {
          lastFailedHash = hash
          onChange({ error: err instanceof Error ? err : new Error(String(err)) })
        }
      }
    }
    const current = state as WatchState
    if (current === 'closed') return
    if (current === 'reading-dirty') schedule()
    else state = 'idle'
  }

  const schedule = (): void => {
    state = 'waiting'
    clearTimeout(timer)
    timer = setTimeout(() => void reload(), delay)
  }

  const onEvent = (_event: string, changed: string | Buffer | null): void => {
    if (changed !== null && changed.toString() !== name) return
    if (state === 'closed') return
    if (state === 'reading' || state === 'reading-dirty') state = 'reading-dirty'
    else schedule()
  }

  const watcher: FSWatcher = fsWatch(dirname(path), { persistent: false }, onEvent)
  watcher.on('error', (err) => onChange({ error: err }))
  // The content loaded before watching started is the baseline, so the first event for an
  // identical file does not report a reload.
  // Read synchronously: read later, it could take an edit made meanwhile for the baseline
  // and never report that edit.
  try {
    lastHash = createHash('sha256').update(readFileSync(path, 'utf8')).digest('hex')
  } catch {
    // no file yet: its first appearance is a change
  }
  return {
    close() {
      state = 'closed'
      clearTimeout(timer)
      watcher.close()
    },
  }
}
