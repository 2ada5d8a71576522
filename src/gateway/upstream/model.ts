// APISIX's upstream object (apisix-config.md §1.4), already schema-checked elsewhere, turned
// into the few values the balancers and the proxy use: nodes with ports filled in, defaults
// applied, seconds turned into milliseconds.

export type BalancerType = 'roundrobin' | 'chash'
export type HashOn = 'vars' | 'header' | 'cookie' | 'consumer' | 'vars_combinations'
export type PassHost = 'pass' | 'node' | 'rewrite'
export type UpstreamScheme = 'http' | 'https'

export interface UpstreamNodeConf {
  readonly host: string
  readonly port?: number
  readonly weight: number
  readonly priority?: number
}

/** The upstream object as APISIX stores it (only the fields the proxy reads). */
export interface UpstreamConf {
  readonly id?: string | number
  readonly nodes: Readonly<Record<string, number>> | readonly UpstreamNodeConf[]
  readonly type?: BalancerType
  readonly hash_on?: HashOn
  readonly key?: string
  readonly pass_host?: PassHost
  readonly upstream_host?: string
  readonly scheme?: UpstreamScheme
  readonly timeout?: { readonly connect?: number; readonly send?: number; readonly read?: number }
  readonly retries?: number
  readonly retry_timeout?: number
  readonly keepalive_pool?: { readonly size?: number; readonly idle_timeout?: number; readonly requests?: number }
  readonly tls?: { readonly verify?: boolean }
}

export interface UpstreamNode {
  /** As configured: a name, an IPv4 address, or an IPv6 address without brackets. */
  readonly host: string
  readonly port: number
  readonly weight: number
  readonly priority: number
  /** `http://host:port`, the key of its connection pool. */
  readonly origin: string
  /** `host:port` as the Host header carries it (IPv6 bracketed). */
  readonly authority: string
}

export interface UpstreamModel {
  readonly nodes: readonly UpstreamNode[]
  readonly type: BalancerType
  readonly hashOn: HashOn
  readonly key: string | undefined
  readonly passHost: PassHost
  readonly upstreamHost: string | undefined
  readonly scheme: UpstreamScheme
  readonly timeoutMs: { readonly connect: number; readonly send: number; readonly read: number }
  /** Extra tries after the first; APISIX's default is one per other node. */
  readonly retries: number
  /** 0 = no deadline. */
  readonly retryTimeoutMs: number
  readonly keepalive: { readonly size: number; readonly idleTimeoutMs: number; readonly requests: number }
  /** Verify the upstream's certificate: nginx's proxy_ssl_verify, off by default. */
  readonly tlsVerify: boolean
  /** An item of `upstreams:` (referenced by id) rather than an inline upstream: decides 502 or 500 on DNS failure. */
  readonly named: boolean
}

// nginx's proxy_*_timeout default; APISIX sets none of its own (apisix-config.md §5.3).
const DEFAULT_TIMEOUT_S = 60

export function upstreamModel(conf: UpstreamConf): UpstreamModel {
  const scheme: UpstreamScheme = conf.scheme === 'https' ? 'https' : 'http'
  const nodes = parseNodes(conf.nodes, scheme)
  const pool = conf.keepalive_pool ?? {}
  return {
    nodes,
    type: conf.type === 'chash' ? 'chash' : 'roundrobin',
    hashOn: conf.hash_on ?? 'vars',
    key: conf.key,
    passHost: conf.pass_host ?? 'pass',
    upstreamHost: conf.upstream_host,
    scheme,
    timeoutMs: {
      connect: seconds(conf.timeout?.connect),
      send: seconds(conf.timeout?.send),
      read: seconds(conf.timeout?.read),
    },
    retries: conf.retries ?? Math.max(0, nodes.length - 1),
    retryTimeoutMs: (conf.retry_timeout ?? 0) * 1000,
    keepalive: {
      size: pool.size ?? 320,
      idleTimeoutMs: (pool.idle_timeout ?? 60) * 1000,
      requests: pool.requests ?? 1000,
    },
    tlsVerify: conf.tls?.verify ?? false,
    named: conf.id !== undefined,
  }
}

function seconds(value: number | undefined): number {
  return Math.round((value ?? DEFAULT_TIMEOUT_S) * 1000)
}

function parseNodes(nodes: UpstreamConf['nodes'], scheme: UpstreamScheme): UpstreamNode[] {
  const defaultPort = scheme === 'https' ? 443 : 80
  const list: UpstreamNodeConf[] = Array.isArray(nodes)
    ? (nodes as readonly UpstreamNodeConf[]).slice()
    : Object.entries(nodes as Record<string, number>).map(([address, weight]) => ({ ...splitAddress(address), weight }))
  return list.map((n) => {
    const host = n.host.startsWith('[') && n.host.endsWith(']') ? n.host.slice(1, -1) : n.host
    const port = n.port ?? defaultPort
    const hostPart = host.includes(':') ? `[${host}]` : host
    return {
      host,
      port,
      weight: n.weight,
      priority: n.priority ?? 0,
      origin: `${scheme}://${hostPart}:${port}`,
      authority: `${hostPart}:${port}`,
    }
  })
}

/** `host`, `host:port`, `[v6]`, `[v6]:port`. */
function splitAddress(address: string): { host: string; port?: number } {
  if (address.startsWith('[')) {
    const end = address.indexOf(']')
    const host = address.slice(1, end)
    const rest = address.slice(end + 1)
    return rest.startsWith(':') ? { host, port: Number(rest.slice(1)) } : { host }
  }
  const colon = address.lastIndexOf(':')
  if (colon < 0) return { host: address }
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) }
}
