// In-process plugins: the counterpart of APISIX's Lua plugins (design.md "Core concepts").
import type { Exchange } from './exchange.js'
import { HeaderList } from './headers.js'
import type { PrepareContext } from './pipeline.js'

/** Request phases run in this order, then the application, then `response`. */
export type Phase = 'rewrite' | 'access' | 'response'
export const PHASES: readonly Phase[] = ['rewrite', 'access', 'response']

export type HeadersInit = HeaderList | Iterable<readonly [string, string]> | Readonly<Record<string, string | readonly string[]>>

/** What a phase handler returns to answer the client itself and end the request there. */
export interface PluginResponse {
  readonly status: number
  readonly headers?: HeadersInit | undefined
  /** An object is sent as JSON followed by a newline, as APISIX's core.response.exit does. */
  readonly body?: string | Uint8Array | object | undefined
}

/**
 * `C` is the configuration as written (and validated against `schema`); `P` is what the
 * handlers receive: the same, or what `prepare` made of it once per route version; `N` the
 * name, which routes use as the key (a literal name lets them check `C`, see
 * defineInProcessPlugin). (Members are methods so that any Plugin<C, P> is accepted where
 * a plugin is expected.)
 */
export interface Plugin<C = Record<string, unknown>, P = C, N extends string = string> {
  readonly name: N
  /** Higher runs first within a phase. */
  readonly priority: number
  /** JSON Schema of the plugin's configuration (`_meta` is added and checked for you). */
  readonly schema?: object
  /** Turns a validated configuration into what the handlers use (compile it once). */
  prepare?(conf: C, context: PrepareContext): P
  rewrite?(conf: P, exchange: Exchange): PhaseResult
  access?(conf: P, exchange: Exchange): PhaseResult
  /** Runs after the application answered; `exchange.response` holds its status, headers, body. */
  response?(conf: P, exchange: Exchange): PhaseResult
}

/** Any in-process plugin, whatever its configuration types. */
export type AnyPlugin = Plugin<unknown, unknown>

/**
 * The configuration a route writes for plugin `T`: `C`, or the handlers' type when `C`
 * could not be inferred (a plugin without `prepare`); unknown when nothing says.
 */
export type PluginConfOf<T> = T extends Plugin<infer C, infer P, string> ? (unknown extends C ? P : C) : unknown

/** `{ [name]: configuration }` for a list of plugins: what RouteConfig<P> checks routes against. */
export type PluginConfsOf<Ps extends readonly AnyPlugin[]> = { [T in Ps[number] as T['name']]: PluginConfOf<T> }

/**
 * Returns `plugin` as it is, typed with its literal name and its configuration type, so
 * that routes of an ExtPlugin created with it check their entry for it at compile time.
 * The configuration type comes from the handlers' (or `prepare`'s) first parameter, or
 * from the type arguments: `defineInProcessPlugin<'request-id', { header?: string }>({ ... })`.
 */
export function defineInProcessPlugin<const N extends string, C, P>(plugin: Plugin<C, P, N> & { prepare(conf: C, context: PrepareContext): P }): Plugin<C, P, N>
export function defineInProcessPlugin<const N extends string, C>(plugin: Plugin<C, C, N>): Plugin<C, C, N>
export function defineInProcessPlugin(plugin: AnyPlugin): AnyPlugin {
  return plugin
}

/** Nothing to continue, or a response to end the request with. */
export type PhaseResult = PluginResponse | undefined | void | Promise<PluginResponse | undefined | void>

/** A response in the form adapters write. Body bytes; undefined means no body. */
export interface FinalResponse {
  status: number
  headers: HeaderList
  body: Buffer | undefined
}

export function toHeaderList(init: HeadersInit | undefined): HeaderList {
  if (init === undefined) return new HeaderList()
  if (init instanceof HeaderList) return init.clone()
  if (Symbol.iterator in init) return HeaderList.from(init as Iterable<readonly [string, string]>)
  const list = new HeaderList()
  for (const [name, value] of Object.entries(init as Record<string, string | readonly string[]>)) {
    if (typeof value === 'string') list.append(name, value)
    else for (const v of value) list.append(name, v)
  }
  return list
}

/** A string body is UTF-8 text; an object is JSON plus a newline. */
export function toBody(body: PluginResponse['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  return Buffer.from(JSON.stringify(body) + '\n', 'utf8')
}

export function toFinalResponse(response: PluginResponse): FinalResponse {
  return { status: response.status, headers: toHeaderList(response.headers), body: toBody(response.body) }
}
