// The JSON Schemas of the configuration APISIX users already write (protocol.md §7, §11),
// and the TypeScript types of the same configuration: a route's `plugins` is typed by the
// plugins its ExtPlugin knows, so a misspelt plugin name or field fails to compile.
import type { FilterRule } from '../expr/types.js'

/** `_meta`, accepted by every plugin (protocol.md §11). */
export interface PluginMeta {
  /** true leaves the plugin out (its configuration is accepted even when invalid). */
  readonly disable?: boolean
  /** Replaces the plugin's priority on this route only. */
  readonly priority?: number
  /** A lua-resty-expr rule over request variables; false skips the plugin. */
  readonly filter?: FilterRule
  /** The body of any response ≥ 400 this plugin produces; an object is sent as JSON. */
  readonly error_response?: string | Readonly<Record<string, unknown>>
}
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
  readonly _meta?: PluginMeta
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

/**
 * The configuration types of in-process plugins by name, as `createExtPlugin({ plugins })`
 * infers them: `{ 'request-id': { header?: string } }`. A `string` index (a plugin whose
 * name is only known as `string`) lets any name through, loosely typed.
 */
export type PluginConfs = { readonly [name: string]: unknown }

/** No in-process plugins: only the three ext-plugin-* are known. */
export type NoPlugins = Record<never, never>

/** Any plugin name, its configuration an object with a typed `_meta`: for configurations typed loosely on purpose. */
export type AnyPlugins = PluginConfs

/** How a plugin's configuration is written in a route: its own type plus `_meta`. */
export type PluginConfig<C> = unknown extends C
  ? { readonly _meta?: PluginMeta; readonly [field: string]: unknown }
  : C & { readonly _meta?: PluginMeta }

/** The three runner plugins (protocol.md §7). */
export interface ExtPluginsConfig {
  /** Rewrite phase, priority 12000: before every other plugin. */
  readonly 'ext-plugin-pre-req'?: ExtPluginConf
  /** Access phase, priority −3000: just before the application. */
  readonly 'ext-plugin-post-req'?: ExtPluginConf
  /** Response phase, priority −4000: HTTPRespCall with the application's status and headers. */
  readonly 'ext-plugin-post-resp'?: ExtPluginConf
}

/** A route's `plugins`: the ext-plugin-* and the in-process plugins `P` names. */
export type RoutePlugins<P extends PluginConfs = NoPlugins> = ExtPluginsConfig & { readonly [K in keyof P]?: PluginConfig<P[K]> }

/**
 * A route (or the app-wide "global rule"): which plugins run, with what configuration.
 * `RouteConfig` alone knows the three ext-plugin-*; `RouteConfig<P>` also the in-process
 * plugins of `P` (what `ext.route()` and the adapters take for an ExtPlugin created with
 * them); `RouteConfig<AnyPlugins>` accepts any plugin name.
 */
export interface RouteConfig<P extends PluginConfs = NoPlugins> {
  /** Part of each conf token's key; defaults to a per-process counter. */
  readonly id?: string | number
  readonly name?: string
  readonly plugins: RoutePlugins<P>
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
