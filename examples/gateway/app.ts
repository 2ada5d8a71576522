// The gateway example: two local upstream servers, the TypeScript runner with its demo
// plugins, and examples/gateway/apisix.yaml served by withGateway (reloaded when it changes).
import http, { type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import type { ExtPlugin } from 'apisix-ext-plugin'
import { withGateway } from 'apisix-ext-plugin/http'

/** An upstream node: answers JSON naming itself, with a card number for the redaction to hide. */
function upstream(name: string, port: number): Server {
  return http
    .createServer((req, res) => {
      const body = JSON.stringify({ upstream: name, url: req.url, service: req.headers['x-service'] ?? null, card: '4111-1111-1111-1111' }) + '\n'
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
    .listen(port, '127.0.0.1')
}

export function startGateway(ext: ExtPlugin, port: number): { server: Server; close(): Promise<void> } {
  const nodes = [upstream('a', Number(process.env.UPSTREAM_A_PORT ?? 1980)), upstream('b', Number(process.env.UPSTREAM_B_PORT ?? 1981))]
  const gw = ext.gateway(fileURLToPath(new URL('apisix.yaml', import.meta.url)), { watch: true })
  const server = http.createServer(withGateway(gw)).listen(port, '127.0.0.1')
  return {
    server,
    async close() {
      server.close()
      for (const node of nodes) node.close()
      await gw.close()
    },
  }
}
