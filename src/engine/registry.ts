// The plugins an ExtPlugin knows by name: the three ext-plugin-* and the application's
// own. Each one's schema is compiled once, with APISIX's `_meta` added to it.
import { metaSchema } from '../config/schemas.js'
import { compileCheck, type Check } from '../config/validate.js'
import { ConfigError, ErrorCode } from '../errors.js'
import type { Plugin } from './plugin.js'

export interface RegisteredPlugin {
  readonly plugin: Plugin<unknown, unknown>
  /** Validates a configuration for this plugin, `_meta` included; fills defaults in. */
  readonly check: Check
}

export class PluginRegistry {
  readonly #plugins = new Map<string, RegisteredPlugin>()

  register(plugin: Plugin<unknown, unknown>): void {
    const p = plugin
    if (typeof p.name !== 'string' || p.name === '') throw invalidPlugin('a plugin needs a non-empty string name', '/name')
    if (!Number.isInteger(p.priority)) throw invalidPlugin(`plugin ${p.name}: priority must be an integer`, '/priority', p.name)
    if (this.#plugins.has(p.name)) throw invalidPlugin(`plugin ${p.name} is already registered`, '/name', p.name)
    for (const phase of ['rewrite', 'access', 'response'] as const) {
      if (p[phase] !== undefined && typeof p[phase] !== 'function') {
        throw invalidPlugin(`plugin ${p.name}: ${phase} must be a function`, `/${phase}`, p.name)
      }
    }
    const check = compileCheck(withMeta(p.schema), `failed to check the configuration of plugin ${p.name} err: `, p.name)
    this.#plugins.set(p.name, { plugin: p, check })
  }

  get(name: string): RegisteredPlugin | undefined {
    return this.#plugins.get(name)
  }

  has(name: string): boolean {
    return this.#plugins.has(name)
  }

  /** The registered names, in registration order (the Admin API's `plugins/list`). */
  names(): string[] {
    return [...this.#plugins.keys()]
  }
}

/** The plugin's schema with `_meta` among its properties (APISIX injects it the same way). */
function withMeta(schema: object | undefined): object {
  const base = (schema ?? {}) as { properties?: Record<string, unknown> }
  // a plugin configuration is always an object, whatever the plugin's own schema says
  return { type: 'object', ...base, properties: { ...base.properties, _meta: metaSchema } }
}

function invalidPlugin(message: string, path: string, plugin?: string): ConfigError {
  return new ConfigError(ErrorCode.INVALID_OPTIONS, message, path, plugin)
}
