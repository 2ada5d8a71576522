// rewrite-path: changes the upstream path, by prefix or by regular expression, and marks
// the request and the eventual response with headers.
//
//   {"prefix": "/api", "to": "/v2"}                      /api/users → /v2/users
//   {"regex": "^/old/(.*)$", "replacement": "/new/$1"}    /old/a/b   → /new/a/b
//   optional: "request_headers": {"x-rewritten": "1"}, "response_headers": {"x-route": "v2"}
//
// Paths that do not match go on unchanged (and get no headers). The query is kept: the
// gateway only replaces the path.
import { definePlugin } from '../types.js'

export interface RewritePathConf {
  /** The new path, or undefined when the path does not match. */
  readonly rewrite: (path: string) => string | undefined
  readonly requestHeaders: ReadonlyArray<[string, string]>
  readonly responseHeaders: ReadonlyArray<[string, string]>
}

interface RawConf {
  prefix?: unknown
  to?: unknown
  regex?: unknown
  replacement?: unknown
  request_headers?: unknown
  response_headers?: unknown
}

function headers(value: unknown, what: string): Array<[string, string]> {
  if (value === undefined) return []
  if (typeof value !== 'object' || value === null || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new Error(`"${what}" must be an object of strings`)
  }
  return Object.entries(value as Record<string, string>)
}

function rewriter(conf: RawConf): RewritePathConf['rewrite'] {
  if (typeof conf.prefix === 'string' && conf.prefix !== '') {
    const prefix = conf.prefix
    const to = typeof conf.to === 'string' ? conf.to : ''
    return (path) => (path.startsWith(prefix) ? to + path.slice(prefix.length) || '/' : undefined)
  }
  if (typeof conf.regex === 'string') {
    const regex = new RegExp(conf.regex)
    const replacement = typeof conf.replacement === 'string' ? conf.replacement : ''
    return (path) => (regex.test(path) ? path.replace(regex, replacement) || '/' : undefined)
  }
  throw new Error('give "prefix" (and "to") or "regex" (and "replacement")')
}

export const rewritePath = definePlugin({
  name: 'rewrite-path',

  parseConf(value): RewritePathConf {
    const conf = JSON.parse(value) as RawConf
    return {
      rewrite: rewriter(conf),
      requestHeaders: headers(conf.request_headers, 'request_headers'),
      responseHeaders: headers(conf.response_headers, 'response_headers'),
    }
  },

  requestFilter(conf, request) {
    const path = conf.rewrite(request.path)
    if (path === undefined) return
    request.path = path
    for (const [name, value] of conf.requestHeaders) request.headers.set(name, value)
    for (const [name, value] of conf.responseHeaders) request.respHeaders.set(name, value)
  },
})
