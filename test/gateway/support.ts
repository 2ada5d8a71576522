// Shared by the gateway tests: the three mounts (Express, Koa, node:http) of one gateway,
// and a loopback upstream that echoes what it received as JSON.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Koa from 'koa'
import { gateway as expressGateway } from '../../adapters/express.js'
import { withGateway } from '../../adapters/http.js'
import { gateway as koaGateway } from '../../adapters/koa.js'
import type { Gateway } from '../../src/gateway/gateway.js'

export interface Mounted {
  readonly url: string
  close(): Promise<void>
}

export type Mount = (gw: Gateway) => Promise<Mounted>

export async function listen(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<Mounted> {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** What a route without upstream, and a request no route matched, reach. */
export const appAnswer = (method: string | undefined, path: string | undefined, tag: unknown): string =>
  `application ${method} ${path} tag=${String(tag ?? '-')}`

export const mounts: Record<'express' | 'koa' | 'http', Mount> = {
  express: async (gw) => {
    const app = express()
    app.use(expressGateway(gw))
    app.use((req, res) => void res.status(200).send(appAnswer(req.method, req.url, req.headers['x-tag'])))
    return listen(app as unknown as (req: IncomingMessage, res: ServerResponse) => void)
  },
  koa: async (gw) => {
    const app = new Koa()
    app.use(koaGateway(gw))
    app.use((ctx) => {
      ctx.body = appAnswer(ctx.method, ctx.url, ctx.headers['x-tag'])
    })
    return listen(app.callback())
  },
  http: async (gw) => listen(withGateway(gw, (req, res) => void res.end(appAnswer(req.method, req.url, req.headers['x-tag'])))),
}

export interface Echo {
  readonly port: number
  readonly address: string
  hits(): number
  close(): Promise<void>
}

/** Answers 200 with `{ server, method, url, headers }` of the request it got. */
export async function echoServer(name: string): Promise<Echo> {
  let hits = 0
  const server = http.createServer((req, res) => {
    hits++
    req.resume()
    req.on('end', () => {
      const body = JSON.stringify({ server: name, method: req.method, url: req.url, headers: req.headers, tag: req.headers['x-tag'] ?? null, xff: req.headers['x-forwarded-for'] ?? null })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    address: `127.0.0.1:${port}`,
    hits: () => hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export interface EchoBody {
  readonly server: string
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string | undefined>
  readonly tag: string | null
  readonly xff: string | null
}
