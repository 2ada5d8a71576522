// HeaderList ⇄ node:http's shapes. When a runner rewrites request headers, the application
// must see them the way Node would have presented them had the client sent them.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import { HeaderList } from '../engine/headers.js'

// Node keeps only the first line of these (lib/_http_incoming.js, matchKnownFields).
const SINGLE = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
])

/** `req.headers` as Node builds it from header lines. */
export function toIncomingHeaders(list: HeaderList): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = Object.create(null)
  for (const [rawName, value] of list) {
    const name = rawName.toLowerCase()
    const current = headers[name]
    if (current === undefined) headers[name] = name === 'set-cookie' ? [value] : value
    else if (name === 'set-cookie') (current as string[]).push(value)
    else if (!SINGLE.has(name)) headers[name] = `${current as string}${name === 'cookie' ? '; ' : ', '}${value}`
  }
  return headers
}

/**
 * A response's headers as lines, names in the case the application used. The list is
 * built whole, so its `modified` stays false until someone changes it: frameResponse can
 * then leave the response's own headers where they are.
 */
export function responseHeaderList(res: ServerResponse): HeaderList {
  const raw: string[] = []
  // getRawHeaderNames (Node ≥ 15.13) keeps the case the application used; @types/node 20 omits it.
  for (const name of (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
    const value = res.getHeader(name)
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) raw.push(name, String(v))
    else raw.push(name, typeof value === 'string' ? value : String(value))
  }
  return new HeaderList(raw)
}
