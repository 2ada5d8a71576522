// Koa: the middleware decides per request path which route applies.
import Koa from 'koa'
import type { ExtPlugin } from 'apisix-ext-plugin'
import { extPlugin } from 'apisix-ext-plugin/koa'
import { order, type ExampleRoutes } from '../routes.js'

export function createApp(ext: ExtPlugin, routes: ExampleRoutes): Koa {
  const app = new Koa()
  const api = extPlugin(ext, routes.api)
  const echo = extPlugin(ext, routes.echo)
  app.use((ctx, next) => (ctx.path.startsWith('/api/') ? api(ctx, next) : ctx.path === '/echo' ? echo(ctx, next) : next()))
  app.use((ctx) => {
    if (ctx.path === '/hello') ctx.body = 'hello from koa, no plugin on this path\n'
    else if (ctx.path.startsWith('/v1/')) ctx.body = order(ctx.path)
    else ctx.status = 404
  })
  return app
}
