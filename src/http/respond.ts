// Writing the engine's decisions to a ServerResponse: a plugin's response (a runner's Stop,
// a 503) and the response-header changes a Rewrite asked for.
import type { ServerResponse } from 'node:http'
import { patchResponseHeaders } from '../engine/apply-actions.js'
import type { Exchange } from '../engine/exchange.js'
import type { HeaderList } from '../engine/headers.js'
import type { Logger } from '../logger.js'
import { responseHeaderList } from './node-headers.js'
import { setHeaders } from './response-capture.js'

const HOOKED = Symbol('apisix-ext-plugin response headers')

/**
 * Applies the exchange's response-header changes to `headers`, once per request: the
 * writeHead hook and an explicit send may both see the same response.
 */
export function applyResponsePatches(headers: HeaderList, exchange: Exchange): void {
  if (exchange.responseHeaders.length === 0 || exchange.engine.responsePatches === 'applied') return
  exchange.engine.responsePatches = 'applied'
  patchResponseHeaders(headers, exchange)
}

/**
 * Applies the exchange's response-header changes (Rewrite.resp_headers) to whatever the
 * application sends, at the moment its headers go out: writeHead is where every response,
 * explicit or implicit, passes.
 */
export function hookResponseHeaders(res: ServerResponse, exchange: Exchange, logger: Logger): void {
  const target = res as ServerResponse & { [HOOKED]?: true }
  if (target[HOOKED]) return
  target[HOOKED] = true
  const writeHead = res.writeHead
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    // Fold headers passed to writeHead into the response first, so the changes apply on top.
    let reason: unknown
    let headers = rest[0]
    if (typeof headers === 'string') [reason, headers] = rest
    if (headers !== undefined && headers !== null && !Array.isArray(headers)) {
      for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
        if (value !== undefined) this.setHeader(name, value as string)
      }
      headers = undefined
    }
    const list = responseHeaderList(this)
    applyResponsePatches(list, exchange)
    for (const name of this.getHeaderNames()) this.removeHeader(name)
    setHeaders(this, list, (name, err) => logger.error({ header: name }, `dropped invalid response header ${JSON.stringify(name)}: ${err.message}`))
    const args = [status, reason, headers].filter((a) => a !== undefined)
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
  } as ServerResponse['writeHead']
}
