// Express: the middleware in front of the routes; the application does not know a runner exists.
// The /api route is mounted app-wide (and picks its requests itself) rather than with
// app.use('/api', …): a rewrite to a path outside a mount point would come back with the
// mount path in front once Express leaves the mount.
import express from 'express'
import type { ExtPlugin } from 'apisix-ext-plugin'
import { extPlugin } from 'apisix-ext-plugin/express'
import { order, type ExampleRoutes } from '../routes.js'

export function createApp(ext: ExtPlugin, routes: ExampleRoutes): express.Express {
  const app = express()
  const api = extPlugin(ext, routes.api)
  app.use((req, res, next) => (req.path.startsWith('/api/') ? api(req, res, next) : next()))
  app.use('/echo', extPlugin(ext, routes.echo))
  app.get('/hello', (_req, res) => void res.send('hello from express, no plugin on this path\n'))
  // /api/orders arrives here as /v1/orders: the runner rewrote it
  app.get('/v1/{*rest}', (req, res) => void res.json(order(req.path)))
  return app
}
