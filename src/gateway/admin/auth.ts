// The Admin API key check (apisix-config.md §8): an admin key, an optional viewer key limited
// to GET, compared in constant time. Only the `X-API-KEY` header is read unless the options
// allow APISIX's other two places (query `api_key`, cookie `x_api_key`), which leak into logs
// and browsers more easily.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export type Role = 'admin' | 'viewer'

export type AuthResult = { readonly role: Role; readonly refusal?: undefined } | { readonly role?: undefined; readonly refusal: string }

export interface Keys {
  readonly admin: Buffer
  readonly viewer: Buffer | undefined
  readonly queryAndCookie: boolean
}

/** Keys are kept as digests: every comparison is between two 32-byte values. */
export function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

export function authenticate(req: IncomingMessage, url: URL, keys: Keys): AuthResult {
  const given = keyOf(req, url, keys.queryAndCookie)
  if (given === undefined) return { refusal: 'missing apikey' }
  const digest = digestOf(given)
  // Both comparisons always run, so the time taken does not tell which key was close.
  const isAdmin = timingSafeEqual(digest, keys.admin)
  const isViewer = keys.viewer !== undefined && timingSafeEqual(digest, keys.viewer)
  if (isAdmin) return { role: 'admin' }
  if (!isViewer) return { refusal: 'wrong apikey' }
  if (req.method !== 'GET') return { refusal: 'invalid method for role viewer' }
  return { role: 'viewer' }
}

/** APISIX reads the query first, then the header, then the cookie. */
function keyOf(req: IncomingMessage, url: URL, queryAndCookie: boolean): string | undefined {
  if (queryAndCookie) {
    const query = url.searchParams.get('api_key')
    if (query !== null) return query
  }
  const header = req.headers['x-api-key']
  if (typeof header === 'string') return header
  if (queryAndCookie) return cookie(req.headers.cookie, 'x_api_key')
  return undefined
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const at = part.indexOf('=')
    if (at > 0 && part.slice(0, at).trim() === name) {
      const value = part.slice(at + 1).trim()
      try {
        return decodeURIComponent(value)
      } catch {
        return value
      }
    }
  }
  return undefined
}
