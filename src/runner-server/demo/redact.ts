// redact: response phase. Reads the upstream's body (text or JSON only) and replaces what
// matches the patterns, telling the client how many replacements were made.
//
//   {"patterns": ["\\b\\d{4}-\\d{4}-\\d{4}-\\d{4}\\b"], "replacement": "[redacted]"}
//
// A body with nothing to redact goes to the client untouched (the reply changes nothing).
import { definePlugin } from '../types.js'

export interface RedactConf {
  readonly patterns: readonly RegExp[]
  readonly replacement: string
}

const TEXTUAL = /^\s*(text\/|application\/(json|xml|javascript)|[^;]*\+(json|xml))/i

export const redact = definePlugin({
  name: 'redact',

  parseConf(value): RedactConf {
    const conf = JSON.parse(value) as { patterns?: unknown; replacement?: unknown }
    if (!Array.isArray(conf.patterns) || !conf.patterns.every((p) => typeof p === 'string')) {
      throw new Error('"patterns" must be an array of regular expressions (strings)')
    }
    const replacement = conf.replacement ?? '[redacted]'
    if (typeof replacement !== 'string') throw new Error('"replacement" must be a string')
    return { patterns: conf.patterns.map((p: string) => new RegExp(p, 'g')), replacement }
  },

  async responseFilter(conf, response) {
    if (!TEXTUAL.test(response.headers.get('content-type') ?? '')) return
    const body = await response.body()
    if (body === undefined) return
    let count = 0
    let text = body.toString('utf8')
    for (const pattern of conf.patterns) {
      text = text.replace(pattern, () => {
        count++
        return conf.replacement
      })
    }
    if (count === 0) return
    // The rest of the upstream's headers go along; Content-Length is recomputed.
    response.setBody(text).headers.set('x-redacted', String(count))
  },
})
