// node:http and node:https: `http.createServer(withExtPlugin(ext, route, handler))`.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RouteConfig } from '../src/config/schemas.js'
import { Route } from '../src/engine/route.js'
import type { ExtPlugin } from '../src/ext-plugin.js'
import { runMount } from '../src/http/handle.js'

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown

export type ExtPluginListener = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** The route: `listener.route.update(config)` swaps its configuration. */
  readonly route: Route
}

/** Wraps `handler` so that the route's plugins run first (and may answer instead of it). */
export function withExtPlugin(ext: ExtPlugin, route: RouteConfig | Route, handler: RequestListener): ExtPluginListener {
  const mounted = route instanceof Route ? route : ext.route(route)
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    runMount(ext, mounted, req, res)
      .then((proceed) => (proceed ? handler(req, res) : undefined))
      .catch((err: unknown) => {
        ext.logger.error(`request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
        if (!res.headersSent) {
          res.statusCode = 500
          res.end()
        } else res.destroy()
      })
  }
  return Object.assign(listener, { route: mounted })
}
