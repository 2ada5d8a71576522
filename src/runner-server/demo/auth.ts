// auth: only requests carrying a known key get through; the others are answered 401 by
// the runner itself (a Stop), and never reach the upstream.
//
//   {"name": "auth", "value": "{\"header\": \"x-api-key\", \"keys\": [\"s3cret\"]}"}
//
// `header` defaults to x-api-key. The key is removed from the request before it goes on.
import { createHash, timingSafeEqual } from 'node:crypto'
import { utf8ToBinary } from '../../protocol/bytes.js'
import { definePlugin } from '../types.js'

export interface AuthConf {
  readonly header: string
  /** SHA-256 of each key, so comparisons take the same time whatever the input. */
  readonly digests: readonly Buffer[]
}

// Header values arrive as binary strings: hash their bytes as they are.
const digest = (binary: string): Buffer => createHash('sha256').update(binary, 'latin1').digest()

export const auth = definePlugin({
  name: 'auth',

  parseConf(value): AuthConf {
    const conf = JSON.parse(value) as { header?: unknown; keys?: unknown }
    const keys = conf.keys
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string' && k !== '')) {
      throw new Error('"keys" must be a non-empty array of non-empty strings')
    }
    const header = conf.header ?? 'x-api-key'
    if (typeof header !== 'string' || header === '') throw new Error('"header" must be a header name')
    return { header, digests: keys.map((k: string) => digest(utf8ToBinary(k))) }
  },

  requestFilter(conf, request, response) {
    const given = request.headers.get(conf.header)
    if (given !== undefined) {
      const d = digest(given)
      if (conf.digests.some((known) => timingSafeEqual(known, d))) {
        request.headers.delete(conf.header)
        return
      }
    }
    // Using `response` at all stops the request: the client gets this, the upstream nothing.
    response.setStatus(401)
    response.headers.set('content-type', 'application/json')
    response.headers.set('www-authenticate', `ApiKey header="${conf.header}"`)
    response.write(JSON.stringify({ error: 'unauthorized' }))
  },
})
