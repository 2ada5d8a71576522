// Variables by APISIX's names (protocol.md §13), for `_meta.filter` and for the runner's
// ExtraInfo Var questions. One resolver serves both. Values are what APISIX would hold:
// strings (binary), `true` for a bare query argument, undefined when the variable does not
// exist. Unlike APISIX nothing is cached per request: a header a plugin rewrote reads back
// rewritten.
import { luaToString } from '../expr/lua.js'
import { argValue, parseArgs } from './args.js'
import type { Exchange } from './exchange.js'

/** The application's own variables; return undefined to fall back to the built-in ones. */
export type VariableResolver = (name: string, exchange: Exchange) => unknown

const FORM_ARGS = Symbol('post_arg')

type Builtin = (exchange: Exchange) => unknown

const builtins = new Map<string, Builtin>(Object.entries({
  method: (x) => x.method,
  request_method: (x) => x.method,
  uri: (x) => x.uri,
  request_uri: (x) => x.requestUri,
  args: (x) => (x.query === '' ? undefined : x.query),
  is_args: (x) => (x.query === '' ? '' : '?'),
  scheme: (x) => x.scheme,
  host: (x) => hostOf(x),
  remote_addr: (x) => x.remoteAddress || undefined,
  remote_port: (x) => (x.remotePort ? String(x.remotePort) : undefined),
  server_addr: (x) => x.serverAddress || undefined,
  server_port: (x) => (x.serverPort ? String(x.serverPort) : undefined),
  // APISIX sets $upstream_uri to the new path plus `?` and the current query (§5.3 step 6)
  upstream_uri: (x) => (x.upstreamUri === undefined ? '' : x.query === '' ? x.upstreamUri : `${x.upstreamUri}?${x.query}`),
  upstream_host: (x) => x.upstreamHost ?? x.headers.get('host'),
  route_id: (x) => x.routeId,
  route_name: (x) => x.routeName,
  content_type: (x) => x.headers.get('content-type'),
  content_length: (x) => x.headers.get('content-length'),
} satisfies Record<string, Builtin>))

export function resolveVariable(exchange: Exchange, name: string): unknown {
  if (exchange.userVariables !== undefined) {
    const value = exchange.userVariables(name, exchange)
    if (value !== undefined) return value
  }
  const builtin = builtins.get(name)
  if (builtin !== undefined) return builtin(exchange)
  if (name.startsWith('http_')) return header(exchange, name.slice(5))
  if (name.startsWith('arg_')) return argValue(exchange.args, name.slice(4))
  if (name.startsWith('cookie_')) return cookie(exchange, name.slice(7))
  if (name.startsWith('post_arg_')) {
    const form = exchange.ctx.get(FORM_ARGS) as ReturnType<typeof parseArgs> | undefined
    return form === undefined ? undefined : argValue(form, name.slice(9))
  }
  return undefined
}

/**
 * Does what `resolveVariable` cannot do synchronously: reads and parses a form body when
 * a `post_arg_*` variable is wanted. Call before evaluating names that may need it.
 */
export async function prepareVariables(exchange: Exchange, names: Iterable<string>): Promise<void> {
  for (const name of names) {
    if (!name.startsWith('post_arg_') || exchange.ctx.has(FORM_ARGS)) continue
    const type = exchange.headers.get('content-type') ?? ''
    const isForm = /^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)
    const body = isForm ? await exchange.body.read() : undefined
    exchange.ctx.set(FORM_ARGS, body === undefined ? undefined : parseArgs(body.toString('latin1')))
    return
  }
}

/** A variable's value as the runner receives it (protocol.md §4.3): Lua's tostring of it. */
export function variableToWire(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return JSON.stringify(value) // Lua would print "table: 0x…"
  return luaToString(value)
}

/**
 * `http_x_foo` is header `X-Foo` (or `X_Foo`: nginx compares names lower-cased with `-` read
 * as `_`, and APISIX allows underscores in headers). Repeated lines are joined with `, `
 * as nginx ≥ 1.23 does (`; ` for cookies).
 */
function header(exchange: Exchange, suffix: string): string | undefined {
  const wanted = suffix.toLowerCase().replace(/-/g, '_')
  let joined: string | undefined
  for (const [name, value] of exchange.headers) {
    if (name.length !== wanted.length || name.toLowerCase().replace(/-/g, '_') !== wanted) continue
    joined = joined === undefined ? value : `${joined}${wanted === 'cookie' ? '; ' : ', '}${value}`
  }
  return joined
}

function cookie(exchange: Exchange, wanted: string): string | undefined {
  for (const line of exchange.headers.getAll('cookie')) {
    for (const pair of line.split(';')) {
      const eq = pair.indexOf('=')
      if (eq < 0) continue
      if (pair.slice(0, eq).trim() === wanted) return pair.slice(eq + 1).trim()
    }
  }
  return undefined
}

/** nginx's `$host`: the Host header's name part, lower-cased, else the server address. */
function hostOf(exchange: Exchange): string | undefined {
  const host = exchange.headers.get('host')
  if (host === undefined || host === '') return exchange.serverAddress || undefined
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':')
  return (end > 0 ? host.slice(0, end) : host).toLowerCase()
}
