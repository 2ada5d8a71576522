// APISIX's default router, radixtree_host_uri (apisix-config.md §2): routes filed under each
// of their hosts (the route's, else its service's), host-filed routes tried before host-less
// ones, and inside one host the URI order of uri-index.ts. Per candidate, in radixtree's
// order: methods, remote_addrs, vars; the first candidate passing all of them wins.
import type { CompiledFilter, FilterVariables } from '../../expr/index.js'
import { compileFilter } from '../../expr/index.js'
import { compileIpMatcher, type IpMatcher } from '../../expr/ip.js'
import { errorFields, type Logger } from '../../logger.js'
import type { ConfigSnapshot, RouteConfig } from '../config/types.js'
import { HostIndex } from './host-index.js'
import { UriIndex } from './uri-index.js'

export interface MatchRequest {
  readonly method: string
  /** The `Host` header (or the request-line host); lower-cased and stripped of its port here. */
  readonly host?: string | undefined
  /** nginx `$uri`: percent-decoded and normalised, no query (Exchange#uri). */
  readonly path: string
  readonly remoteAddr?: string | undefined
  /** Request variables for `vars` (protocol.md §13): an object or a lazy lookup. */
  readonly vars?: FilterVariables | undefined
}

export interface Router {
  /** The winning route, or undefined (APISIX answers 404 Route Not Found). */
  match(request: MatchRequest): RouteConfig | undefined
  /** Routes in the router (`status: 0` ones are left out). */
  readonly size: number
}

interface Compiled {
  readonly route: RouteConfig
  /** Upper-cased methods, or undefined for any. */
  readonly methods: ReadonlySet<string> | undefined
  readonly remote: IpMatcher | undefined
  readonly vars: CompiledFilter | undefined
}

export interface RouterOptions {
  readonly logger?: Logger
}

export function createRouter(snapshot: ConfigSnapshot, options: RouterOptions = {}): Router {
  const hosts = new HostIndex<UriIndex<Compiled>>()
  const hostless = new UriIndex<Compiled>()
  let size = 0
  for (const route of snapshot.routes) {
    if (route.status === 0) continue
    size++
    const compiled: Compiled = {
      route,
      methods: route.methods === undefined || route.methods.length === 0 ? undefined : new Set(route.methods),
      remote:
        route.remote_addrs === undefined
          ? undefined
          : compileIpMatcher(route.remote_addrs, (message) => {
              throw new Error(`route ${route.id}: ${message}`)
            }),
      vars: route.vars === undefined || route.vars.length === 0 ? undefined : compileFilter(route.vars),
    }
    const routeHosts = route.hosts ?? (route.service_id === undefined ? undefined : snapshot.services.get(route.service_id)?.hosts)
    const targets = routeHosts === undefined ? [hostless] : routeHosts.map((h) => hosts.getOrAdd(h, () => new UriIndex<Compiled>()))
    for (const target of targets) {
      for (const uri of route.uris) target.add(uri, compiled, route.priority, route.index)
    }
  }
  const logger = options.logger

  return {
    size,
    match(request) {
      const method = request.method.toUpperCase()
      const accept = (c: Compiled): boolean => {
        if (c.methods !== undefined && !c.methods.has(method)) return false
        if (c.remote !== undefined && (request.remoteAddr === undefined || !c.remote(stripMapped(request.remoteAddr)))) return false
        if (c.vars !== undefined) {
          try {
            if (!c.vars.evaluate(request.vars ?? {})) return false
          } catch (err) {
            // radixtree logs a failed `vars` evaluation and counts it as no match
            logger?.error({ route: c.route.id, ...errorFields(err) }, `failed to evaluate the vars of route ${c.route.id}: ${err instanceof Error ? err.message : String(err)}`)
            return false
          }
        }
        return true
      }
      const host = normalizeHost(request.host)
      if (host !== undefined) {
        for (const index of hosts.candidates(host)) {
          const found = index.find(request.path, accept)
          if (found !== undefined) return found.route
        }
      }
      return hostless.find(request.path, accept)?.route
    },
  }
}

/** nginx `$host`: lower-cased, without the port (`[::1]:80` → `[::1]`). */
export function normalizeHost(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined
  let h = host
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end > 0) h = h.slice(0, end + 1)
  } else {
    const colon = h.indexOf(':')
    if (colon >= 0) h = h.slice(0, colon)
  }
  return h.toLowerCase()
}

/** Node reports IPv4 clients of a dual-stack socket as `::ffff:1.2.3.4`; nginx says `1.2.3.4`. */
function stripMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}
