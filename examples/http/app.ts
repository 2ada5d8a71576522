// node:http: withExtPlugin wraps a plain (req, res) handler.
import http from 'node:http'
import type { ExtPlugin } from 'apisix-ext-plugin'
import { withExtPlugin } from 'apisix-ext-plugin/http'
import { order, type ExampleRoutes } from '../routes.js'

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!
  if (path === '/hello') {
    res.end('hello from node:http, no plugin on this path\n')
  } else if (path.startsWith('/v1/')) {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(order(path)))
  } else {
    res.statusCode = 404
    res.end()
  }
}

export function createServer(ext: ExtPlugin, routes: ExampleRoutes): http.Server {
  const api = withExtPlugin(ext, routes.api, handler)
  const echo = withExtPlugin(ext, routes.echo, handler)
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    if (path.startsWith('/api/')) api(req, res)
    else if (path === '/echo') echo(req, res)
    else handler(req, res)
  })
}
