// Koa (2 and 3): `app.use(extPlugin(ext, route))`.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PluginConfs, RouteConfig } from '../src/config/schemas.js'
import { Route } from '../src/engine/route.js'
import type { ExtPlugin } from '../src/ext-plugin.js'
import { runMount } from '../src/http/handle.js'
import { runGateway } from '../src/http/gateway.js'
import type { Gateway } from '../src/gateway/gateway.js'
import type { ParsedBodyHolder } from '../src/http/request-body.js'

/** The parts of Koa's context this adapter uses. */
export interface KoaContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly originalUrl: string
  /** Koa's body parsers leave `body` and `rawBody` here (typed loosely: Koa's own Request type has neither). */
  readonly request?: object
  respond?: boolean
}

export type KoaMiddleware = ((ctx: KoaContext, next: () => Promise<unknown>) => Promise<void>) & {
  /** The mounted route: `middleware.route.update(config)` swaps its configuration. */
  readonly route: Route
}

export function extPlugin<P extends PluginConfs>(ext: ExtPlugin<P>, route: NoInfer<RouteConfig<P>> | Route): KoaMiddleware {
  const mounted = route instanceof Route ? route : ext.route(route)
  const middleware = async (ctx: KoaContext, next: () => Promise<unknown>): Promise<void> => {
    if (await runMount(ext, mounted, ctx.req, ctx.res, ctx.originalUrl, ctx.request as ParsedBodyHolder | undefined)) {
      await next()
      return
    }
    // The middleware answered the client itself; Koa must not write a response of its own.
    ctx.respond = false
  }
  return Object.assign(middleware as KoaMiddleware, { route: mounted })
}

/**
 * A gateway: a request that matches a route runs its merged plugins and goes to the route's
 * upstream; a route without upstream, or no match, goes on to the next middleware.
 */
export function gateway(gw: Gateway): (ctx: KoaContext, next: () => Promise<unknown>) => Promise<void> {
  return async (ctx, next) => {
    const outcome = await runGateway(gw, ctx.req, ctx.res, ctx.originalUrl, ctx.request as ParsedBodyHolder | undefined)
    if (outcome !== 'answered') {
      await next()
      return
    }
    ctx.respond = false
  }
}
