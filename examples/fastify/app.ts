// Fastify: each route's plugins registered in an encapsulated context, so they run for that
// context's routes only. /api/orders arrives in the /api context; the runner rewrites it to
// /v1/orders and extPlugin routes it again, to the root's /v1 route (request.query follows).
import Fastify, { type FastifyInstance } from 'fastify'
import type { ExtPlugin } from 'apisix-ext-plugin'
import { extPlugin } from 'apisix-ext-plugin/fastify'
import { order, type ExampleRoutes } from '../routes.js'

export async function createApp(ext: ExtPlugin, routes: ExampleRoutes): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(async (api) => {
    await api.register(extPlugin, { ext, route: routes.api })
    // Fastify runs hooks for requests it has a route for: this one catches /api/* for the
    // plugins, and answers only what the runner neither stopped nor rewrote.
    api.all('/api/*', async (_request, reply) => reply.code(404).send())
  })
  await app.register(async (echo) => {
    await echo.register(extPlugin, { ext, route: routes.echo })
    echo.get('/echo', async () => 'the runner answers /echo itself\n')
  })
  app.get('/hello', async () => 'hello from fastify, no plugin on this path\n')
  app.get('/v1/*', async (request) => order(request.url.split('?')[0]!))
  return app
}
