// echo: answers every request itself with a JSON description of what the runner was told,
// which makes it a handy first plugin to try. With `vars` it also asks the gateway for
// those variables, with `body` for the request body (each an ExtraInfo round trip).
//
//   {"vars": ["remote_addr", "route_id"], "body": true}
import { binaryToUtf8 } from '../../protocol/bytes.js'
import { definePlugin } from '../types.js'

export interface EchoConf {
  readonly vars: readonly string[]
  readonly body: boolean
}

export const echo = definePlugin({
  name: 'echo',

  parseConf(value): EchoConf {
    const conf = (value.trim() === '' ? {} : JSON.parse(value)) as { vars?: unknown; body?: unknown }
    const vars = conf.vars ?? []
    if (!Array.isArray(vars) || !vars.every((v) => typeof v === 'string')) throw new Error('"vars" must be an array of names')
    return { vars, body: conf.body === true }
  },

  async requestFilter(conf, request, response) {
    // Wire text is binary (one char per byte); show it as the UTF-8 it normally is.
    const text = (s: string | null | undefined) => (s === null || s === undefined ? null : binaryToUtf8(s))
    const seen: Record<string, unknown> = {
      id: request.id,
      method: request.method,
      path: text(request.path),
      args: request.args.entries().map(([name, value]) => [text(name), text(value)]),
      headers: request.headers.entries().map(([name, value]) => [name, text(value)]),
      src_ip: request.srcIp ?? null,
    }
    if (conf.vars.length > 0) {
      const vars: Record<string, string | null> = {}
      for (const name of conf.vars) vars[name] = text(await request.var(name))
      seen.vars = vars
    }
    if (conf.body) seen.body = (await request.body())?.toString('utf8') ?? null
    response.setStatus(200)
    response.headers.set('content-type', 'application/json')
    response.write(JSON.stringify(seen, null, 2) + '\n')
  },
})
