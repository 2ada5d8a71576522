// A Web-standard handler (Hono's app.fetch), served by @hono/node-server: withExtPlugin wraps
// a `(request, env) => Response` handler in one of the same shape. The client address is the
// server's to give: `remoteAddress` reads it from @hono/node-server's env.incoming.
import type { Server } from 'node:http'
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import { Hono } from 'hono'
import type { ExtPlugin } from 'apisix-ext-plugin'
import { withExtPlugin } from 'apisix-ext-plugin/fetch'
import { order, type ExampleRoutes } from '../routes.js'

type Fetch = (request: Request, env: HttpBindings) => Response | Promise<Response>

export function createServer(ext: ExtPlugin, routes: ExampleRoutes): Server {
  const app = new Hono<{ Bindings: HttpBindings }>()
  app.get('/hello', (c) => c.text('hello from hono, no plugin on this path\n'))
  app.get('/v1/*', (c) => c.json(order(c.req.path)))
  const handler: Fetch = (request, env) => app.fetch(request, env)
  const options = { remoteAddress: (_request: Request, env: HttpBindings) => env.incoming.socket.remoteAddress }
  const api = withExtPlugin(ext, routes.api, handler, options)
  const echo = withExtPlugin(ext, routes.echo, handler, options)
  const fetch: Fetch = (request, env) => {
    const path = new URL(request.url).pathname
    return path.startsWith('/api/') ? api(request, env) : path === '/echo' ? echo(request, env) : handler(request, env)
  }
  return createAdaptorServer({ fetch: fetch as (request: Request, env: unknown) => Promise<Response> }) as Server
}
