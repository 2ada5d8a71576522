// The header list sent upstream (apisix-config.md §5.4, §5.5, APISIX 3.18 without
// trusted_addresses): the client's headers as plugins left them, minus hop-by-hop ones, with
// Host per pass_host and the X-Forwarded-* / X-Real-IP lines APISIX's nginx config sets.
import { HeaderList } from '../../engine/headers.js'
import type { UpstreamModel, UpstreamNode } from './model.js'

// Removed before proxying. Content-Length is recomputed by the caller of undici for a
// buffered body; Transfer-Encoding is chosen by undici for a streamed one.
const DROPPED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'expect', 'forwarded', 'host', 'x-real-ip', 'x-forwarded-for', 'x-forwarded-proto',
  'x-forwarded-host', 'x-forwarded-port',
])

export interface ClientView {
  readonly headers: HeaderList
  /** The client's address ($remote_addr). */
  readonly clientAddress: string
  /** Scheme of the client's connection ($scheme). */
  readonly scheme: string
  /** $host when the request has no Host header (the server name). */
  readonly host: string
  /** The port the client connected to, for X-Forwarded-Port without a port in Host. */
  readonly localPort: number | undefined
}

/** Flat [name, value, …] for undici. `bodyLength` set: the body is a buffer of that size. */
export function upstreamRequestHeaders(
  model: UpstreamModel,
  node: UpstreamNode,
  client: ClientView,
  bodyLength: number | undefined,
): string[] {
  const source = client.headers
  const hopByHop = connectionTokens(source)
  const out: string[] = []
  const raw = source.raw
  const clientHost = source.get('host')
  const clientXff = source.getAll('x-forwarded-for')
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    if (DROPPED.has(name) || hopByHop.has(name)) continue
    if (bodyLength !== undefined && name === 'content-length') continue
    out.push(raw[i]!, raw[i + 1]!)
  }
  out.push('host', upstreamHost(model, node, clientHost ?? client.host))
  if (bodyLength !== undefined && (bodyLength > 0 || source.has('content-length'))) out.push('content-length', String(bodyLength))
  out.push('x-real-ip', client.clientAddress)
  out.push('x-forwarded-for', clientXff.length > 0 ? `${clientXff.join(', ')}, ${client.clientAddress}` : client.clientAddress)
  out.push('x-forwarded-proto', client.scheme)
  out.push('x-forwarded-host', clientHost ?? client.host)
  const port = hostPort(clientHost) ?? client.localPort
  if (port !== undefined) out.push('x-forwarded-port', String(port))
  return out
}

/** Host sent upstream (§5.4); the TLS server name too. */
export function upstreamHost(model: UpstreamModel, node: UpstreamNode, clientHost: string): string {
  switch (model.passHost) {
    case 'pass':
      return clientHost
    case 'rewrite':
      return model.upstreamHost ?? clientHost
    case 'node': {
      const standard = model.scheme === 'https' ? 443 : 80
      const host = node.host.includes(':') ? `[${node.host}]` : node.host
      return node.port === standard ? host : `${host}:${node.port}`
    }
  }
}

/** Names a Connection header lists are hop-by-hop too (RFC 9110 §7.6.1). */
export function connectionTokens(headers: HeaderList): Set<string> {
  const tokens = new Set<string>()
  for (const value of headers.getAll('connection')) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase()
      if (name !== '') tokens.add(name)
    }
  }
  return tokens
}

function hostPort(host: string | undefined): number | undefined {
  if (host === undefined) return undefined
  const close = host.lastIndexOf(']')
  const colon = host.lastIndexOf(':')
  if (colon <= close) return undefined
  const port = Number(host.slice(colon + 1))
  return Number.isInteger(port) && port > 0 ? port : undefined
}
