// Schemas are compiled once with ajv; failures become a ConfigError whose message reads like
// APISIX's (`property "conf" validation failed: failed to validate item 1: property "name"
// is required`) and whose `path` is the JSON pointer of the offending field.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { ConfigError, ErrorCode } from '../errors.js'

// useDefaults fills `allow_degradation: false` and the like, as APISIX's validator does;
// verbose keeps the offending value on each error, for the message.
const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false, verbose: true })

/** Checks a value in place (defaults are filled in); throws ConfigError. */
export type Check = (value: unknown) => void

/**
 * A checker for `schema`. `prefix` starts each message (e.g. `failed to check the
 * configuration of plugin x err: `) and `plugin` is recorded on the error.
 */
export function compileCheck(
  schema: object,
  prefix: string,
  plugin?: string,
  code: ErrorCode = ErrorCode.INVALID_CONFIG,
): Check {
  let validate: ValidateFunction
  try {
    validate = ajv.compile(schema)
  } catch (err) {
    throw new ConfigError(
      code,
      `${prefix}invalid schema: ${err instanceof Error ? err.message : String(err)}`,
      '',
      plugin,
    )
  }
  return (value) => {
    if (validate(value)) return
    const { path, message } = describe(validate.errors![0]!)
    throw new ConfigError(code, prefix + message, path, plugin)
  }
}

/** One ajv error in APISIX's words, with the JSON pointer of the field it is about. */
export function describe(error: ErrorObject): { path: string; message: string } {
  const segments = error.instancePath.split('/').slice(1).map(unescapePointer)
  let leaf: string
  let path = error.instancePath
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      leaf = `property "${String(params.missingProperty)}" is required`
      path += '/' + escapePointer(String(params.missingProperty))
      break
    case 'additionalProperties':
      leaf = `additional properties forbidden, found ${String(params.additionalProperty)}`
      path += '/' + escapePointer(String(params.additionalProperty))
      break
    case 'type':
      leaf = `wrong type: expected ${Array.isArray(params.type) ? params.type.join(' or ') : String(params.type)}, got ${typeName(valueAt(error))}`
      break
    case 'minItems':
      leaf = `expect array to have at least ${String(params.limit)} items`
      break
    case 'minLength':
      leaf = `string too short, expected at least ${String(params.limit)}, got ${lengthAt(error)}`
      break
    case 'maxLength':
      leaf = `string too long, expected at most ${String(params.limit)}, got ${lengthAt(error)}`
      break
    case 'pattern':
      leaf = `failed to match pattern "${String(params.pattern)}" with "${String(valueAt(error))}"`
      break
    case 'minimum':
    case 'exclusiveMinimum':
      leaf = `expected ${String(valueAt(error))} to be at least ${String(params.limit)}`
      break
    case 'maximum':
    case 'exclusiveMaximum':
      leaf = `expected ${String(valueAt(error))} to be at most ${String(params.limit)}`
      break
    case 'oneOf':
    case 'anyOf':
      leaf = 'value should match only one schema, but matches none'
      break
    default:
      leaf = error.message ?? error.keyword
  }
  const context = segments
    .map((segment) => (/^\d+$/.test(segment) ? `failed to validate item ${Number(segment) + 1}: ` : `property "${segment}" validation failed: `))
    .join('')
  return { path, message: context + leaf }
}

// ajv does not hand back the offending value itself; keep the parts we word messages with.
function valueAt(error: ErrorObject): unknown {
  return (error as ErrorObject & { data?: unknown }).data
}

function lengthAt(error: ErrorObject): string {
  const value = valueAt(error)
  return typeof value === 'string' ? String([...value].length) : '?'
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value === 'undefined' ? '?' : typeof value
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~')
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}
