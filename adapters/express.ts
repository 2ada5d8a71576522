// Express (4 and 5): `app.use(extPlugin(ext, route))`, app-wide, on a router or on a path.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PluginConfs, RouteConfig } from '../src/config/schemas.js'
import { Route } from '../src/engine/route.js'
import type { ExtPlugin } from '../src/ext-plugin.js'
import { runMount } from '../src/http/handle.js'
import { runGateway } from '../src/http/gateway.js'
import type { Gateway } from '../src/gateway/gateway.js'

/** The parts of Express's request this adapter uses. */
interface ExpressRequest extends IncomingMessage {
  originalUrl?: string
  query?: unknown
  app?: { get(setting: string): unknown }
}

export type ExpressMiddleware = ((req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void) & {
  /** The mounted route: `middleware.route.update(config)` swaps its configuration. */
  readonly route: Route
}

export function extPlugin<P extends PluginConfs>(ext: ExtPlugin<P>, route: NoInfer<RouteConfig<P>> | Route): ExpressMiddleware {
  const mounted = route instanceof Route ? route : ext.route(route)
  const middleware = (req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    const url = req.url
    runMount(ext, mounted, req, res, req.originalUrl).then((proceed) => {
      if (!proceed) return
      if (req.url !== url) refreshQuery(req)
      next()
    }, next)
  }
  return Object.assign(middleware as ExpressMiddleware, { route: mounted })
}

/**
 * A gateway app-wide: a request that matches a route runs its merged plugins and goes to the
 * route's upstream; a route without upstream, or no match, goes on to `next()`.
 */
export function gateway(gw: Gateway): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    const url = req.url
    runGateway(gw, req, res, req.originalUrl).then((outcome) => {
      if (outcome === 'answered') return
      if (req.url !== url) refreshQuery(req)
      next()
    }, next)
  }
}

/**
 * Express 5 computes `req.query` from `req.url` on each access; Express 4 parsed it once
 * into a property, which must follow a rewritten URL.
 */
function refreshQuery(req: ExpressRequest): void {
  const own = Object.getOwnPropertyDescriptor(req, 'query')
  const parse = req.app?.get('query parser fn')
  if (own === undefined || !own.writable || typeof parse !== 'function') return
  const url = req.url ?? ''
  const q = url.indexOf('?')
  req.query = parse(q < 0 ? '' : url.slice(q + 1))
}
