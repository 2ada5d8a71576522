// One mounted route over one node:http request: what every adapter calls. The request's
// owner (owner.ts) does the work; these are the stable entry points.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Exchange } from '../engine/exchange.js'
import type { Route } from '../engine/route.js'
import type { ExtPlugin } from '../ext-plugin.js'
import { existingOwner, ownerOf } from './owner.js'
import type { ParsedBodyHolder } from './request-body.js'
import { frameResponse } from './frame.js'
import { HeaderList } from '../engine/headers.js'
import { errorFields } from '../logger.js'

/**
 * Runs `route`'s request phases for `req`. Resolves true when the application should go
 * on (with the rewritten request), false when the middleware answered the client itself.
 * `originalUrl` is the request target before any framework stripped a mount path.
 */
export function runMount(
  ext: ExtPlugin,
  route: Pick<Route, 'pipeline'>,
  req: IncomingMessage,
  res: ServerResponse,
  originalUrl: string = req.url ?? '/',
  bodyHolder?: ParsedBodyHolder,
): Promise<boolean> {
  return ownerOf(ext, req, originalUrl, bodyHolder).runMount(route.pipeline, res)
}

/**
 * The request's Exchange, created on first use and shared with every mount the request
 * passes (the gateway matches routes on it before any mount runs).
 */
export function requestExchange(ext: ExtPlugin, req: IncomingMessage, originalUrl: string = req.url ?? '/', bodyHolder?: ParsedBodyHolder): Exchange {
  return ownerOf(ext, req, originalUrl, bodyHolder).exchange
}

/**
 * An adapter's last resort when the application or the library failed: logged, then a 500
 * if nothing was sent yet (framed like every response the library writes), else the
 * connection closes.
 */
export function failRequest(ext: ExtPlugin, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const owner = existingOwner(req)
  if (owner !== undefined) return owner.fail(err, res)
  ext.logger.error({ method: req.method, url: req.url, ...errorFields(err) }, `request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  if (res.headersSent) res.destroy()
  else frameResponse(res, 500, new HeaderList(), undefined, { isHead: req.method === 'HEAD' }, ext.logger)
}
