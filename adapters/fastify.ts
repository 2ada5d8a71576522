// Fastify (5 and 4): `await app.register(extPlugin, { ext, route })`, or, to run the plugins
// before Fastify's router sees the request at all, `Fastify({ serverFactory: serverFactory(ext, route) })`.
//
// Why an onRequest hook that re-dispatches: Fastify has chosen the route (and parsed
// `request.query`) before any hook runs, and its `rewriteUrl` option is synchronous, so a
// runner's Rewrite can only take effect by routing the request again. When the path or the
// query changed, the hook takes the request out of this pass (`reply.hijack()`) and hands
// the raw request to `fastify.routing`, Fastify's own entry point, which routes the new URL
// and builds a fresh Request (`request.query` included); the mounts that already ran are
// not run again. It works through `fastify.inject()` (which calls the same entry point) and
// inside encapsulated contexts (`register(…, { prefix })`), where it runs for that context's
// routes only. A rewritten request passes Fastify's onRequest hooks registered before
// extPlugin, and its onResponse hooks, once per pass; `serverFactory` avoids the second pass
// (and runs for every request, unknown routes included) but `inject()` bypasses the server.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { PluginConfs, RouteConfig } from '../src/config/schemas.js'
import { Route } from '../src/engine/route.js'
import type { ExtPlugin } from '../src/ext-plugin.js'
import type { Gateway } from '../src/gateway/gateway.js'
import { runGateway } from '../src/http/gateway.js'
import { runMount } from '../src/http/handle.js'
import { withExtPlugin } from './http.js'

/**
 * `{ ext, route }`. Fastify's register() cannot carry the ExtPlugin's plugin types into the
 * route, so a route naming in-process plugins is checked when built with `ext.route()`.
 */
export interface FastifyExtPluginOptions {
  // any ExtPlugin, whatever its in-process plugins
  readonly ext: ExtPlugin<any>
  readonly route: RouteConfig | Route
}

export interface FastifyGatewayOptions {
  readonly gateway: Gateway
}

/** Per raw request: the mounts (routes, gateways) whose plugins already ran, across re-dispatches. */
const ran = new WeakMap<IncomingMessage, Set<object>>()

type Outcome = 'continue' | 'answered'

/**
 * Runs `run` once per request for `mount`, then: the request goes on (unchanged URL),
 * is routed again (rewritten URL), or is over (a plugin answered).
 */
async function once(instance: FastifyInstance, mount: object, request: FastifyRequest, reply: FastifyReply, run: () => Promise<Outcome>): Promise<void> {
  const req = request.raw
  let mounts = ran.get(req)
  if (mounts === undefined) ran.set(req, (mounts = new Set()))
  if (mounts.has(mount)) return
  mounts.add(mount)
  completeForInject(req)
  const url = req.url
  if ((await run()) === 'answered') {
    reply.hijack()
    return
  }
  if (req.url === url) return
  reply.hijack()
  instance.routing(req, reply.raw)
}

async function extPluginPlugin(instance: FastifyInstance, options: FastifyExtPluginOptions): Promise<void> {
  const { ext, route } = options
  const mounted = route instanceof Route ? route : ext.route(route)
  instance.addHook('onRequest', (request, reply) =>
    once(instance, mounted, request, reply, async () => ((await runMount(ext, mounted, request.raw, reply.raw)) ? 'continue' : 'answered')),
  )
}

/** The route's plugins for every route of the context it is registered in (and its children). */
export const extPlugin = fp(extPluginPlugin, { fastify: '4.x || 5.x', name: 'apisix-ext-plugin' })

async function gatewayPlugin(instance: FastifyInstance, options: FastifyGatewayOptions): Promise<void> {
  const gw = options.gateway
  instance.addHook('onRequest', (request, reply) =>
    once(instance, gw, request, reply, async () => ((await runGateway(gw, request.raw, reply.raw)) === 'answered' ? 'answered' : 'continue')),
  )
}

/**
 * A gateway: a request that matches a route runs its merged plugins and goes to the route's
 * upstream; a route without upstream, or no match, goes on to Fastify's own routes.
 * Registered app-wide it also sees requests no Fastify route matches (the not-found handler
 * runs the root's hooks); inside a context, only that context's routes.
 */
export const gateway = fp(gatewayPlugin, { fastify: '4.x || 5.x', name: 'apisix-ext-plugin-gateway' })

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * For `Fastify({ serverFactory: serverFactory(ext, route) })`: the route's plugins run in
 * front of Fastify, before its router, for every request the server receives. HTTP/1.1
 * (`https` options honoured); not HTTP/2. `fastify.inject()` does not pass through it.
 */
export function serverFactory<P extends PluginConfs>(ext: ExtPlugin<P>, route: NoInfer<RouteConfig<P>> | Route): (handler: Handler, opts: Record<string, unknown>) => http.Server {
  return (handler, opts) => {
    const listener = withExtPlugin(ext, route, handler)
    const tls = opts.https
    return typeof tls === 'object' && tls !== null ? https.createServer(tls as https.ServerOptions, listener) : http.createServer(listener)
  }
}

/**
 * `fastify.inject()` requests are plain Readables without IncomingMessage's `complete`,
 * which the body reader checks to know the stream has been read to its end; give them one.
 */
function completeForInject(req: IncomingMessage): void {
  if (typeof (req as { complete?: unknown }).complete === 'boolean') return
  Object.defineProperty(req, 'complete', {
    configurable: true,
    get(this: IncomingMessage & { _readableState?: { ended?: boolean } }) {
      return this._readableState?.ended === true
    },
  })
}
