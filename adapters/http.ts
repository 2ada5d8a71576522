// node:http and node:https: `http.createServer(withExtPlugin(ext, route, handler))`.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PluginConfs, RouteConfig } from '../src/config/schemas.js'
import { Route } from '../src/engine/route.js'
import type { ExtPlugin } from '../src/ext-plugin.js'
import { failRequest, runMount } from '../src/http/handle.js'
import { frameResponse } from '../src/http/frame.js'
import { HeaderList } from '../src/engine/headers.js'
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

const ROUTE_NOT_FOUND = Buffer.from('{"error_msg":"404 Route Not Found"}\n')

/**
 * A gateway as a request listener: matched routes run their plugins and go to their upstream;
 * a route without upstream, and a request no route matches, go to `fallback`. Without a
 * fallback both get APISIX's 404 (`{"error_msg":"404 Route Not Found"}`).
 */
export function withGateway(gw: Gateway, fallback?: RequestListener): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    runGateway(gw, req, res)
      .then((outcome) => {
        if (outcome === 'answered') return
        if (fallback !== undefined) return fallback(req, res)
        frameResponse(res, 404, new HeaderList(['content-type', 'application/json']), ROUTE_NOT_FOUND, { isHead: req.method === 'HEAD' }, gw.ext.logger)
      })
      .catch((err: unknown) => failRequest(gw.ext, req, res, err))
  }
}
