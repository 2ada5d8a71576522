// A standalone configuration file's text → the plain object validation takes
// (apisix-config.md §7.2, §7.4): APISIX's apisix.yaml (YAML with the `#END` marker, `${{VAR}}`
// substituted in the raw text), its JSON variant (variables substituted after parsing), and
// a6's `config sync` file (`version: "1"`, `ssl`, `plugin_metadata[].plugin_name`).
import { parse as parseYaml } from 'yaml'
import { ConfigError, ErrorCode } from '../../errors.js'

const VARIABLE = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::=\s*([^}]*?)\s*)?\}\}/g

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const json = /^\s*[[{]/.test(text)
  let value: unknown
  if (json) {
    value = tryParse(file, () => JSON.parse(text))
    value = substituteValues(value, file, env)
  } else {
    // APISIX reads only a file whose last bytes are the end flag: a half-written file is not read.
    if (!/#END\s*$/.test(text.slice(-10)) && !isA6(text)) {
      throw invalid(file, `missing valid end flag in file ${file}`)
    }
    const substituted = text.replace(VARIABLE, (_m, name: string, fallback: string | undefined) => lookup(name, fallback, file, env))
    value = tryParse(file, () => parseYaml(substituted))
  }
  if (value === null || value === undefined) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(file, `${file}: the configuration must be an object`)
  return fromA6(value as Record<string, unknown>, file)
}

/** a6 files carry `version: "1"` and need no end flag. */
function isA6(text: string): boolean {
  return /^version:\s*["']?1["']?\s*$/m.test(text)
}

function fromA6(config: Record<string, unknown>, file: string): Record<string, unknown> {
  if (!('version' in config)) return config
  if (config.version !== '1' && config.version !== 1) throw invalid(file, `${file}: version must be "1"`)
  const { version: _version, ssl, plugin_metadata, ...rest } = config
  const out: Record<string, unknown> = { ...rest }
  if (ssl !== undefined) out.ssls = ssl
  if (Array.isArray(plugin_metadata)) {
    out.plugin_metadata = plugin_metadata.map((item: unknown) => {
      if (item === null || typeof item !== 'object') return item
      const { plugin_name, ...meta } = item as Record<string, unknown>
      return plugin_name === undefined ? meta : { id: plugin_name, ...meta }
    })
  }
  return out
}

function substituteValues(value: unknown, file: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${{')) return value
    const text = value.replace(VARIABLE, (_m, name: string, fallback: string | undefined) => lookup(name, fallback, file, env))
    // A value that was only a variable takes the type its text reads as (APISIX's JSON rule).
    if (/^\s*\$\{\{[^}]*\}\}\s*$/.test(value)) {
      if (text === 'true') return true
      if (text === 'false') return false
      if (text.trim() !== '' && Number.isFinite(Number(text))) return Number(text)
    }
    return text
  }
  if (Array.isArray(value)) return value.map((v) => substituteValues(v, file, env))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[substituteValues(k, file, env) as string] = substituteValues(v, file, env)
    return out
  }
  return value
}

function lookup(name: string, fallback: string | undefined, file: string, env: NodeJS.ProcessEnv): string {
  const value = env[name]
  if (value !== undefined && value !== '') return value
  if (fallback !== undefined) return fallback
  throw invalid(file, `${file}: can't find environment variable ${name}`)
}

function tryParse(file: string, parse: () => unknown): unknown {
  try {
    return parse()
  } catch (err) {
    throw invalid(file, `failed to parse the content of file ${file}: ${(err as Error).message}`)
  }
}

function invalid(_file: string, message: string): ConfigError {
  return new ConfigError(ErrorCode.INVALID_CONFIG, message, '')
}
