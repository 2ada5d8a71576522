// The JSON Schemas of the configuration APISIX users already write (protocol.md §7, §11).
/** What every plugin configuration may carry under `_meta` (APISIX's schema_def, minus Lua). */
export const metaSchema = {
  type: 'object',
  properties: {
    disable: { type: 'boolean' },
    priority: { type: 'integer' },
    // Its content is lua-resty-expr; compileFilter checks it with the language's own messages.
    filter: { type: 'array' },
    error_response: { oneOf: [{ type: 'string' }, { type: 'object' }] },
  },
  additionalProperties: false,
} as const

export interface RunnerConfEntry {
  readonly name: string
  readonly value: string
}

/** `ext-plugin-pre-req`, `ext-plugin-post-req`, `ext-plugin-post-resp`. */
export interface ExtPluginConf {
  /** Runner plugins in execution order, each with its configuration as a string. */
  readonly conf?: readonly RunnerConfEntry[]
  /** Continue as if the runner said nothing when it fails, instead of answering 503. */
  readonly allow_degradation?: boolean
  readonly [extra: string]: unknown
}

export const extPluginSchema = {
  type: 'object',
  properties: {
    conf: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 128 },
          value: { type: 'string' },
        },
        required: ['name', 'value'],
      },
    },
    allow_degradation: { type: 'boolean', default: false },
  },
} as const

/** A route (or the app-wide "global rule"): which plugins run, with what configuration. */
export interface RouteConfig {
  /** Part of each conf token's key; defaults to a per-process counter. */
  readonly id?: string | number
  readonly name?: string
  readonly plugins: Readonly<Record<string, Readonly<Record<string, unknown>>>>
}

export const routeSchema = {
  type: 'object',
  properties: {
    // APISIX's id rule: it becomes part of each conf token's key
    id: {
      type: ['string', 'integer'],
      if: { type: 'integer' },
      then: { minimum: 1 },
      else: { minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_.]+$' },
    },
    name: { type: 'string', maxLength: 256 },
    plugins: { type: 'object' },
  },
  required: ['plugins'],
  additionalProperties: false,
} as const
