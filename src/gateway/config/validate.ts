// A whole APISIX configuration checked before any of it takes effect: each object against
// APISIX's schema (defaults filled on a copy), the rules the schema cannot say (uri xor
// uris, one of host/hosts...), every plugin against its own schema, and every reference.
// Where APISIX skips a bad item and loads the rest, this refuses the whole configuration:
// the running one stays, and the error names the object and the field.
import { compileCheck, type Check } from '../../config/validate.js'
import { extPluginSchema, metaSchema } from '../../config/schemas.js'
import { ConfigError, ErrorCode } from '../../errors.js'
import { compileFilter } from '../../expr/index.js'
import { compileIpMatcher } from '../../expr/ip.js'
import type { Logger } from '../../logger.js'
import * as S from './schemas.js'
import type {
  ConfigSnapshot,
  ConsumerConfig,
  ConsumerGroupConfig,
  CredentialConfig,
  GlobalRuleConfig,
  PluginConfigConfig,
  PluginMap,
  RouteConfig,
  ServiceConfig,
  UpstreamConfig,
  UpstreamNode,
} from './types.js'

/** What validation needs of a registered plugin (PluginRegistry.get gives it). */
export interface PluginLookupEntry {
  readonly plugin: { readonly name: string; readonly consumerSchema?: object }
  readonly check: Check
}

export interface PluginLookup {
  get(name: string): PluginLookupEntry | undefined
}

export interface ValidateOptions {
  /** The in-process plugins (an ExtPlugin's registry). The three ext-plugin-* are always known. */
  readonly plugins?: PluginLookup
  /** `error` (default): an unknown plugin fails the config. `ignore`: warn once per name and drop it. */
  readonly unknownPlugins?: 'error' | 'ignore'
  readonly logger?: Logger
  /** Names of plugins already warned about, so a reload does not warn again (shared across calls). */
  readonly warned?: Set<string>
}

export const EXT_PLUGINS: ReadonlySet<string> = new Set(['ext-plugin-pre-req', 'ext-plugin-post-req', 'ext-plugin-post-resp'])

const SECTIONS = [
  'routes', 'services', 'upstreams', 'plugin_configs', 'consumers', 'consumer_groups', 'global_rules', 'plugin_metadata',
] as const
/** Sections APISIX has that a gateway in a Node process does not serve: accepted when empty. */
const UNSUPPORTED_SECTIONS = ['ssls', 'stream_routes', 'protos', 'secrets'] as const

const checks = {
  route: compileCheck(S.routeSchema, ''),
  service: compileCheck(S.serviceSchema, ''),
  upstream: compileCheck(S.upstreamSchema, ''),
  plugin_config: compileCheck(S.pluginConfigSchema, ''),
  consumer: compileCheck(S.consumerSchema, ''),
  credential: compileCheck(S.credentialSchema, ''),
  consumer_group: compileCheck(S.consumerGroupSchema, ''),
  global_rule: compileCheck(S.globalRuleSchema, ''),
}
const extPluginCheck = compileCheck(
  { ...extPluginSchema, type: 'object', properties: { ...extPluginSchema.properties, _meta: metaSchema } },
  '',
)
const consumerChecks = new WeakMap<object, Check>()

type Obj = Record<string, unknown>

/** Validates `input` whole and returns the snapshot; throws the first ConfigError found. */
export function validateConfig(input: unknown, options: ValidateOptions = {}): ConfigSnapshot {
  return new Validator(options).run(input)
}

/** `routes[3].upstream.nodes` from a section, an index and a JSON pointer below the item. */
export function fieldPath(section: string, index: number, pointer = ''): string {
  let path = `${section}[${index}]`
  for (const segment of pointer.split('/').slice(1)) {
    const s = segment.replace(/~1/g, '/').replace(/~0/g, '~')
    path += /^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_][\w]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`
  }
  return path
}

class Validator {
  readonly #options: ValidateOptions
  readonly #warnings: string[] = []
  readonly #warned: Set<string>

  constructor(options: ValidateOptions) {
    this.#options = options
    this.#warned = options.warned ?? new Set()
  }

  run(input: unknown): ConfigSnapshot {
    if (!isObject(input)) throw fail('', 'the configuration must be an object')
    for (const key of Object.keys(input)) {
      if ((SECTIONS as readonly string[]).includes(key)) continue
      if ((UNSUPPORTED_SECTIONS as readonly string[]).includes(key)) {
        const value = input[key]
        if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue
        throw fail(key, `${key} are not supported by the gateway`)
      }
      if (key === 'plugins') {
        this.#warn('the top-level `plugins` list is ignored: the in-process plugins are the registered ones')
        continue
      }
      throw fail(key, `unknown section ${key}`)
    }
    const upstreams = this.#keyed('upstreams', input.upstreams, (item, at) => this.#upstream(item, at, true))
    const services = this.#keyed('services', input.services, (item, at) => this.#service(item, at))
    const pluginConfigs = this.#keyed('plugin_configs', input.plugin_configs, (item, at) => this.#pluginConfig(item, at))
    const consumerGroups = this.#keyed('consumer_groups', input.consumer_groups, (item, at) => this.#consumerGroup(item, at))
    const { consumers, credentials } = this.#consumers(input.consumers)
    const globalRules = [...this.#keyed('global_rules', input.global_rules, (item, at) => this.#globalRule(item, at)).values()]
    const routes = [...this.#keyed('routes', input.routes, (item, at, index) => this.#route(item, at, index)).values()]
    const pluginMetadata = this.#pluginMetadata(input.plugin_metadata)

    // references, each error naming the object that holds the dangling id
    for (const [, s] of services) {
      if (s.upstream_id !== undefined && !upstreams.has(s.upstream_id)) throw dangling(`services`, s, 'upstream_id', 'upstream')
    }
    for (const r of routes) {
      if (r.upstream_id !== undefined && !upstreams.has(r.upstream_id)) throw dangling('routes', r, 'upstream_id', 'upstream')
      if (r.service_id !== undefined && !services.has(r.service_id)) throw dangling('routes', r, 'service_id', 'service')
      if (r.plugin_config_id !== undefined && !pluginConfigs.has(r.plugin_config_id)) {
        throw dangling('routes', r, 'plugin_config_id', 'plugin config')
      }
    }
    for (const [, c] of consumers) {
      if (c.group_id !== undefined && !consumerGroups.has(c.group_id)) throw danglingAt(`consumers[${positionOf(c)}]`, c.username, 'group_id', 'consumer group', c.group_id)
    }
    for (const cred of credentials) {
      if (!consumers.has(cred.username)) {
        throw fail(`consumers[${positionOf(cred)}].id`, `credential ${cred.username}/credentials/${cred.id}: no consumer ${cred.username}`)
      }
    }
    this.#globalRuleClashes(globalRules)
    this.#duplicateKeys(consumers, credentials)
    return {
      routes,
      services,
      upstreams,
      pluginConfigs,
      consumers,
      credentials,
      consumerGroups,
      globalRules,
      pluginMetadata,
      warnings: this.#warnings,
    }
  }

  #warn(message: string): void {
    this.#warnings.push(message)
    this.#options.logger?.warn({}, message)
  }

  /** Items by id (later duplicates replace earlier ones in their position, as APISIX's loader does). */
  #keyed<T>(section: string, list: unknown, build: (item: Obj, at: string, index: number) => T): Map<string, T> {
    const out = new Map<string, T>()
    if (list === undefined || list === null) return out
    if (!Array.isArray(list)) throw fail(section, `${section} must be an array`)
    list.forEach((item, index) => {
      const at = `${section}[${index}]`
      if (!isObject(item)) throw fail(at, `${at} must be an object`)
      const built = build(item, at, index)
      positions.set(built as object, index)
      const key = (built as { id?: string }).id ?? `arr_${index + 1}`
      out.set(key, built)
    })
    return out
  }

  #schema(check: Check, item: Obj, at: string): Obj {
    const copy = structuredClone(item)
    try {
      check(copy)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      const section = at.slice(0, at.indexOf('['))
      const index = Number(at.slice(at.indexOf('[') + 1, -1))
      const path = fieldPath(section, index, err.path)
      throw new ConfigError(err.code, `${describeItem(at, item)}: ${err.message}`, path, err.plugin)
    }
    return copy
  }

  #upstream(item: Obj, at: string, named: boolean): UpstreamConfig {
    const u = this.#schema(checks.upstream, item, at)
    if (u.service_name !== undefined || u.discovery_type !== undefined) {
      throw fail(`${at}.discovery_type`, `${describeItem(at, item)}: service discovery is not supported; list the nodes`)
    }
    if (u.nodes === undefined) throw fail(`${at}.nodes`, `${describeItem(at, item)}: property "nodes" is required`)
    const scheme = u.scheme as string
    if (u.type === 'chash' && u.hash_on !== 'consumer' && u.key === undefined) throw fail(`${at}.key`, `${describeItem(at, item)}: missing key`)
    if (u.type === 'chash' && u.hash_on === 'vars' && typeof u.key === 'string' && !CHASH_VARS.has(u.key) && !u.key.startsWith('arg_')) {
      throw fail(`${at}.key`, `${describeItem(at, item)}: invalid chash key ${u.key} for hash_on vars`)
    }
    if ((u.hash_on === 'header' || u.hash_on === 'cookie') && typeof u.key === 'string' && !/^[a-zA-Z0-9-_]+$/.test(u.key)) {
      throw fail(`${at}.key`, `${describeItem(at, item)}: invalid ${u.hash_on} name ${u.key}`)
    }
    if (u.pass_host === 'rewrite' && u.upstream_host === undefined) {
      throw fail(`${at}.upstream_host`, `${describeItem(at, item)}: \`upstream_host\` can't be empty when \`pass_host\` is \`rewrite\``)
    }
    if (!['roundrobin', 'chash'].includes(u.type as string)) {
      throw fail(`${at}.type`, `${describeItem(at, item)}: balancer type ${String(u.type)} is not supported (roundrobin, chash)`)
    }
    const tls = u.tls as Obj | undefined
    if (tls !== undefined && (tls.client_cert !== undefined || tls.client_key !== undefined || tls.client_cert_id !== undefined)) {
      throw fail(`${at}.tls`, `${describeItem(at, item)}: upstream mTLS (tls.client_cert, client_key, client_cert_id) is not supported`)
    }
    if (u.checks !== undefined) this.#warn(`${describeItem(at, item)}: health checks are not run by the gateway (checks ignored; every node is used)`)
    const nodes = normalizeNodes(u.nodes, scheme, `${at}.nodes`, describeItem(at, item))
    const out: Obj = { ...u, nodes }
    if (named) out.id = idOf(item, at)
    else delete out.id
    return out as unknown as UpstreamConfig
  }

  #service(item: Obj, at: string): ServiceConfig {
    const s = this.#schema(checks.service, item, at)
    if (s.script !== undefined) throw fail(`${at}.script`, `${describeItem(at, item)}: script (Lua) is not supported`)
    const out: Obj = { ...s, id: idOf(item, at) }
    if (s.upstream !== undefined) out.upstream = this.#upstream(item.upstream as Obj, `${at}.upstream`, false)
    if (s.upstream_id !== undefined) out.upstream_id = String(s.upstream_id)
    if (Array.isArray(s.hosts)) out.hosts = (s.hosts as string[]).map((h) => h.toLowerCase())
    if (s.plugins !== undefined) out.plugins = this.#plugins(s.plugins, `${at}.plugins`, 'object')
    return out as unknown as ServiceConfig
  }

  #route(item: Obj, at: string, index: number): RouteConfig {
    const r = this.#schema(checks.route, item, at)
    const what = describeItem(at, item)
    for (const lua of ['filter_func', 'script', 'script_id'] as const) {
      if (r[lua] !== undefined) throw fail(`${at}.${lua}`, `${what}: ${lua} (Lua) is not supported`)
    }
    if ((r.uri === undefined) === (r.uris === undefined)) throw fail(`${at}.uri`, `${what}: exactly one of uri or uris is required`)
    if (r.host !== undefined && r.hosts !== undefined) throw fail(`${at}.hosts`, `${what}: only one of host or hosts is allowed`)
    if (r.remote_addr !== undefined && r.remote_addrs !== undefined) {
      throw fail(`${at}.remote_addrs`, `${what}: only one of remote_addr or remote_addrs is allowed`)
    }
    if (r.plugins === undefined && r.upstream === undefined && r.upstream_id === undefined && r.service_id === undefined) {
      throw fail(at, `${what}: one of plugins, upstream, upstream_id or service_id is required`)
    }
    const out: Obj = {
      id: item.id === undefined ? `arr_${index + 1}` : idOf(item, at),
      uris: r.uri !== undefined ? [r.uri] : r.uris,
      priority: r.priority,
      status: r.status,
      index,
    }
    if (r.enable_websocket === true) this.#warn(`${what}: enable_websocket is not supported (Upgrade is not forwarded)`)
    for (const key of ['name', 'desc', 'labels', 'methods', 'timeout', 'enable_websocket'] as const) {
      if (r[key] !== undefined) out[key] = r[key]
    }
    if (r.host !== undefined || r.hosts !== undefined) {
      out.hosts = ((r.hosts as string[] | undefined) ?? [r.host as string]).map((h) => h.toLowerCase())
    }
    if (r.remote_addr !== undefined || r.remote_addrs !== undefined) {
      const addrs = (r.remote_addrs as string[] | undefined) ?? [r.remote_addr as string]
      const field = r.remote_addrs !== undefined ? 'remote_addrs' : 'remote_addr'
      compileIpMatcher(addrs, (message, i) => {
        throw fail(field === 'remote_addrs' ? `${at}.remote_addrs[${i}]` : `${at}.remote_addr`, `${what}: ${message}`)
      })
      out.remote_addrs = addrs
    }
    if (r.vars !== undefined) {
      try {
        compileFilter(r.vars)
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        throw new ConfigError(
          ErrorCode.INVALID_CONFIG,
          `${what}: failed to validate the 'vars' expression: ${err.message}`,
          fieldPath('routes', index, '/vars' + err.path),
        )
      }
      out.vars = r.vars
    }
    for (const ref of ['plugin_config_id', 'upstream_id', 'service_id'] as const) {
      if (r[ref] !== undefined) out[ref] = String(r[ref])
    }
    if (r.upstream !== undefined) out.upstream = this.#upstream(item.upstream as Obj, `${at}.upstream`, false)
    if (r.plugins !== undefined) out.plugins = this.#plugins(r.plugins, `${at}.plugins`, 'object')
    return out as unknown as RouteConfig
  }

  #pluginConfig(item: Obj, at: string): PluginConfigConfig {
    const p = this.#schema(checks.plugin_config, item, at)
    return { ...p, id: idOf(item, at), plugins: this.#plugins(p.plugins, `${at}.plugins`, 'object') } as PluginConfigConfig
  }

  #consumerGroup(item: Obj, at: string): ConsumerGroupConfig {
    const g = this.#schema(checks.consumer_group, item, at)
    return { ...g, id: idOf(item, at), plugins: this.#plugins(g.plugins, `${at}.plugins`, 'object') } as ConsumerGroupConfig
  }

  #globalRule(item: Obj, at: string): GlobalRuleConfig {
    const g = this.#schema(checks.global_rule, item, at)
    return { id: idOf(item, at), plugins: this.#plugins(g.plugins, `${at}.plugins`, 'object') }
  }

  #consumers(list: unknown): { consumers: Map<string, ConsumerConfig>; credentials: CredentialConfig[] } {
    const consumers = new Map<string, ConsumerConfig>()
    const credentials = new Map<string, CredentialConfig>()
    if (list === undefined || list === null) return { consumers, credentials: [] }
    if (!Array.isArray(list)) throw fail('consumers', 'consumers must be an array')
    list.forEach((item: unknown, index) => {
      const at = `consumers[${index}]`
      if (!isObject(item)) throw fail(at, `${at} must be an object`)
      if (typeof item.id === 'string' && item.id.includes('/credentials/')) {
        const c = this.#schema(checks.credential, item, at)
        const [username, id] = (c.id as string).split('/credentials/') as [string, string]
        const plugins = this.#plugins(c.plugins ?? {}, `${at}.plugins`, 'consumer')
        const cred = { id, username, plugins }
        positions.set(cred, index)
        credentials.set(c.id as string, cred)
        return
      }
      const c = this.#schema(checks.consumer, item, at)
      const out: Obj = { ...c }
      if (c.group_id !== undefined) out.group_id = String(c.group_id)
      if (c.plugins !== undefined) out.plugins = this.#plugins(c.plugins, `${at}.plugins`, 'consumer')
      positions.set(out, index)
      consumers.set(c.username as string, out as unknown as ConsumerConfig)
    })
    return { consumers, credentials: [...credentials.values()] }
  }

  #pluginMetadata(list: unknown): Map<string, Obj> {
    const out = new Map<string, Obj>()
    if (list === undefined || list === null) return out
    if (!Array.isArray(list)) throw fail('plugin_metadata', 'plugin_metadata must be an array')
    list.forEach((item: unknown, index) => {
      const at = `plugin_metadata[${index}]`
      if (!isObject(item) || typeof item.id !== 'string') throw fail(`${at}.id`, `${at}: property "id" (the plugin name) is required`)
      const { id, ...rest } = item
      out.set(id, rest)
    })
    return out
  }

  /** Each plugin checked against its schema; unknown ones refused, or dropped with `ignore`. */
  #plugins(value: unknown, at: string, side: 'object' | 'consumer'): PluginMap {
    if (!isObject(value)) throw fail(at, `${at} must be an object`)
    const out: Record<string, Obj> = {}
    const unknown: string[] = []
    for (const [name, conf] of Object.entries(value)) {
      const where = `${at}${/^[A-Za-z_]\w*$/.test(name) ? '.' + name : `[${JSON.stringify(name)}]`}`
      if (!isObject(conf)) throw fail(where, `failed to check the configuration of plugin ${name} err: wrong type: expected object`, name)
      const disabled = isObject(conf._meta) && conf._meta.disable === true
      const entry = this.#options.plugins?.get(name)
      let check: Check | undefined = entry?.check
      if (check === undefined && EXT_PLUGINS.has(name)) check = extPluginCheck
      if (check === undefined) {
        // A disabled unknown plugin is kept: it still shadows lower layers when merging.
        if (disabled) {
          out[name] = conf
          continue
        }
        if (this.#options.unknownPlugins === 'ignore') {
          if (!this.#warned.has(name)) {
            this.#warned.add(name)
            this.#warn(`unknown plugin [${name}] ignored (unknownPlugins: 'ignore')`)
          }
          continue
        }
        unknown.push(name)
        continue
      }
      if (side === 'consumer' && entry?.plugin.consumerSchema !== undefined) check = consumerCheck(entry.plugin.consumerSchema)
      try {
        check(structuredClone(conf))
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        const message = `failed to check the configuration of plugin ${name} err: ${err.message.replace(/^failed to check the configuration of plugin \S+ err: /, '')}`
        if (!disabled) throw new ConfigError(err.code, `${at.slice(0, at.lastIndexOf('.'))}: ${message}`, where + pointerToDots(err.path), name)
        this.#warn(`${where}: ${message} (accepted: the plugin is disabled)`)
      }
      out[name] = conf
    }
    if (unknown.length > 0) {
      throw fail(
        unknown.length === 1 ? `${at}.${unknown[0]}` : at,
        `${at.slice(0, at.lastIndexOf('.'))}: unknown plugin${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `[${n}]`).join(', ')} (neither an ext-plugin nor registered; unknownPlugins: 'ignore' skips them)`,
        unknown[0],
      )
    }
    return out
  }

  #globalRuleClashes(rules: readonly GlobalRuleConfig[]): void {
    const owner = new Map<string, string>()
    rules.forEach((rule, index) => {
      for (const name of Object.keys(rule.plugins)) {
        const first = owner.get(name)
        if (first !== undefined) {
          throw fail(`global_rules[${index}].plugins.${name}`, `global_rules[${index}] (id ${rule.id}): plugin '${name}' already exists in global rule with id '${first}'`, name)
        }
        owner.set(name, rule.id)
      }
    })
  }

  #duplicateKeys(consumers: ReadonlyMap<string, ConsumerConfig>, credentials: readonly CredentialConfig[]): void {
    const seen = new Map<string, string>()
    const visit = (plugins: PluginMap | undefined, owner: string, at: string): void => {
      const key = plugins?.['key-auth']?.key
      if (typeof key !== 'string') return
      const first = seen.get(key)
      if (first !== undefined) throw fail(`${at}.plugins["key-auth"].key`, `${at}: duplicate key of plugin key-auth found with consumer: ${first}`, 'key-auth')
      seen.set(key, owner)
    }
    for (const [, c] of consumers) visit(c.plugins, c.username, `consumers[${positionOf(c)}]`)
    for (const c of credentials) visit(c.plugins, c.username, `consumers[${positionOf(c)}]`)
  }
}

// Where each consumer or credential sat in the file, for messages about references checked later.
const positions = new WeakMap<object, number>()
function positionOf(item: object): number {
  return positions.get(item) ?? -1
}

const CHASH_VARS = new Set([
  'uri', 'server_name', 'server_addr', 'request_uri', 'remote_port', 'remote_addr', 'query_string', 'host', 'hostname', 'mqtt_client_id',
])

function consumerCheck(schema: object): Check {
  let check = consumerChecks.get(schema)
  if (check === undefined) {
    check = compileCheck({ type: 'object', ...schema, properties: { ...(schema as { properties?: object }).properties, _meta: metaSchema } }, '')
    consumerChecks.set(schema, check)
  }
  return check
}

function normalizeNodes(nodes: unknown, scheme: string, at: string, what: string): UpstreamNode[] {
  const defaultPort = scheme === 'https' || scheme === 'grpcs' || scheme === 'tls' ? 443 : 80
  if (Array.isArray(nodes)) {
    return nodes.map((n: Obj, i) => {
      const host = n.host as string
      if (host.includes(':') && !host.startsWith('[')) throw fail(`${at}[${i}].host`, `${what}: IPv6 address must be enclosed with '[' and ']'`)
      const node: Obj = { host: unbracket(host), port: (n.port as number | undefined) ?? defaultPort, weight: n.weight, priority: n.priority ?? 0 }
      if (n.metadata !== undefined) node.metadata = n.metadata
      return node as unknown as UpstreamNode
    })
  }
  return Object.entries(nodes as Record<string, number>).map(([key, weight]) => {
    const { host, port } = splitHostPort(key, `${at}[${JSON.stringify(key)}]`, what)
    return { host, port: port ?? defaultPort, weight, priority: 0 }
  })
}

/** `10.0.0.1:80`, `example.com`, `[::1]:8080`; a bare IPv6 address is APISIX's error. */
function splitHostPort(key: string, at: string, what: string): { host: string; port: number | undefined } {
  if (key.startsWith('[')) {
    const end = key.indexOf(']')
    if (end < 0) throw fail(at, `${what}: invalid node ${key}`)
    const rest = key.slice(end + 1)
    if (rest === '') return { host: key.slice(1, end), port: undefined }
    if (!/^:\d+$/.test(rest)) throw fail(at, `${what}: invalid node ${key}`)
    return { host: key.slice(1, end), port: checkPort(Number(rest.slice(1)), at, what) }
  }
  const colons = key.split(':').length - 1
  if (colons > 1) throw fail(at, `${what}: IPv6 address must be enclosed with '[' and ']'`)
  if (colons === 0) return { host: key, port: undefined }
  const [host, port] = key.split(':') as [string, string]
  if (host === '' || !/^\d+$/.test(port)) throw fail(at, `${what}: invalid node ${key}`)
  return { host, port: checkPort(Number(port), at, what) }
}

function checkPort(port: number, at: string, what: string): number {
  if (port < 1 || port > 65535) throw fail(at, `${what}: invalid port ${port}`)
  return port
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

function idOf(item: Obj, at: string): string {
  if (item.id === undefined) throw fail(`${at}.id`, `${at}: property "id" is required`)
  return String(item.id)
}

function describeItem(at: string, item: Obj): string {
  const name = item.id ?? item.username
  return name === undefined ? at : `${at} (id ${String(name)})`
}

function dangling(section: string, item: { id?: string }, field: string, kind: string): ConfigError {
  const index = positionOf(item)
  return danglingAt(`${section}[${index}]`, item.id, field, kind, String((item as Record<string, unknown>)[field]))
}

function danglingAt(at: string, id: string | undefined, field: string, kind: string, ref: string | undefined): ConfigError {
  return fail(`${at}.${field}`, `${at}${id === undefined ? '' : ` (id ${id})`}: unknown ${field} ${JSON.stringify(ref)}: failed to fetch ${kind} info by ${kind} id [${String(ref)}]`)
}

function pointerToDots(pointer: string): string {
  return pointer === '' ? '' : fieldPath('x', 0, pointer).slice('x[0]'.length)
}

function fail(path: string, message: string, plugin?: string): ConfigError {
  return new ConfigError(ErrorCode.INVALID_CONFIG, message, path, plugin)
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
