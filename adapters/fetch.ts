// Web-standard handlers (`Request` → `Response`: Hono's `app.fetch`, and any other):
// `withExtPlugin(ext, route, handler, options?)` is a handler of the same shape.
import type { PluginConfs, RouteConfig } from '../src/config/schemas.js'
import { Route } from '../src/engine/route.js'
import type { ExtPlugin } from '../src/ext-plugin.js'
import { runWeb, type Connection } from '../src/web/handle.js'

export type FetchHandler<R extends unknown[] = unknown[]> = (request: Request, ...rest: R) => Response | Promise<Response>

export interface FetchOptions<R extends unknown[] = unknown[]> {
  /**
   * The client's address, which a Request does not carry: the server that called the handler
   * knows it. `@hono/node-server`: `(request, env) => env.incoming.socket.remoteAddress`.
   * Without it `remote_addr` is empty (filters and runners that read it see '').
   */
  readonly remoteAddress?: (request: Request, ...rest: R) => string | undefined
  /** The client's port, from the server likewise (`env.incoming.socket.remotePort`). */
  readonly remotePort?: (request: Request, ...rest: R) => number | undefined
}

export type ExtPluginFetchHandler<R extends unknown[] = unknown[]> = ((request: Request, ...rest: R) => Promise<Response>) & {
  /** The route: `handler.route.update(config)` swaps its configuration. */
  readonly route: Route
}

/**
 * Wraps `handler` so that the route's plugins run first (and may answer instead of it), and
 * the response phase runs over the Response it returns. `rest` (a server's `env`,
 * `executionCtx`…) is passed through untouched.
 */
export function withExtPlugin<R extends unknown[], P extends PluginConfs>(
  ext: ExtPlugin<P>,
  route: NoInfer<RouteConfig<P>> | Route,
  handler: FetchHandler<R>,
  options: FetchOptions<R> = {},
): ExtPluginFetchHandler<R> {
  const mounted = route instanceof Route ? route : ext.route(route)
  const { remoteAddress, remotePort } = options
  const wrapped = (request: Request, ...rest: R): Promise<Response> =>
    runWeb(ext, mounted, request, rest, handler, (): Connection => ({
      remoteAddress: remoteAddress?.(request, ...rest),
      remotePort: remotePort?.(request, ...rest),
    }))
  return Object.assign(wrapped, { route: mounted })
}
