// node:http and node:https: `http.createServer(withExtPlugin(ext, route, handler))`.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PluginConfs, RouteConfig } from '../src/config/schemas.js'
import { Route } from '../src/engine/route.js'
import type { ExtPlugin } from '../src/ext-plugin.js'
import { failRequest, runMount } from '../src/http/handle.js'
import { runGateway } from '../src/http/gateway.js'
import type { Gateway } from '../src/gateway/gateway.js'

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown

export type ExtPluginListener = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** The route: `listener.route.update(config)` swaps its configuration. */
  readonly route: Route
}

/** Wraps `handler` so that the route's plugins run first (and may answer instead of it). */
export function withExtPlugin<P extends PluginConfs>(ext: ExtPlugin<P>, route: NoInfer<RouteConfig<P>> | Route, handler: RequestListener): ExtPluginListener {
  const mounted = route instanceof Route ? route : ext.route(route)
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    runMount(ext, mounted, req, res)
      .then((proceed) => (proceed ? handler(req, res) : undefined))
      .catch((err: unknown) => failRequest(ext, req, res, err))
  }
  return Object.assign(listener, { route: mounted })
}

/**
 * A gateway as a request listener: matched routes run their plugins and go to their upstream;
 * a route without upstream, and a request no route matches, go to `fallback`. Without a
 * fallback they get what APISIX answers: 503 for the route without upstream; the global
 * rules, then 404 (`{"error_msg":"404 Route Not Found"}`) for no match.
 */
export function withGateway(gw: Gateway, fallback?: RequestListener): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // Without a fallback the gateway answers what would go to it, as APISIX: 404, 503.
    runGateway(gw, req, res, undefined, undefined, { standalone: fallback === undefined })
      .then((outcome) => {
        if (outcome !== 'answered') return fallback?.(req, res)
      })
      .catch((err: unknown) => failRequest(gw.ext, req, res, err))
  }
}
