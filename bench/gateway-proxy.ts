// Proxy throughput: autocannon through the whole gateway (withGateway: route match, the
// route's pipeline, proxyRequest), through proxyRequest alone (src/gateway/upstream), and
// through a bare undici proxy (one Pool, headers passed as they came), against the same
// loopback upstream, in turn in the same run so that drift in the machine's speed hits all alike.
// Usage: node --import tsx bench/gateway-proxy.ts [seconds per run] [rounds]
import { once } from 'node:events'
import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import autocannon from 'autocannon'
import { Pool } from 'undici'
import { withGateway } from '../adapters/http.js'
import { HeaderList } from '../src/engine/headers.js'
import { createExtPlugin } from '../src/index.js'
import { proxyRequest, Upstream } from '../src/gateway/upstream/index.js'

const seconds = Number(process.argv[2] ?? 5)
const rounds = Number(process.argv[3] ?? 2)
const connections = 50

async function listen(handler: RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as AddressInfo).port }
}

const payload = Buffer.alloc(1024, 'x')
const origin = await listen((_req, res) => {
  res.setHeader('content-type', 'text/plain')
  res.end(payload)
})
const target = `127.0.0.1:${origin.port}`

const upstream = new Upstream({ nodes: { [target]: 1 } })
const ours = await listen(async (req, res) => {
  const result = await proxyRequest({ req, upstream, path: req.url!, headers: new HeaderList(req.rawHeaders, true) })
  if (result.type === 'aborted') return
  res.writeHead(result.status, result.headers.raw as string[])
  if (result.type === 'streamed') result.body.pipe(res)
  else res.end(result.body)
})

// The gateway: one route among 1000 others, no plugins, an inline upstream.
const ext = createExtPlugin({})
const gw = ext.gateway({
  routes: [
    ...Array.from({ length: 1000 }, (_, i) => ({ id: `other${i}`, uri: `/other${i}/*`, upstream: { nodes: { [target]: 1 } } })),
    { id: 'bench', uri: '/bench', upstream: { nodes: { [target]: 1 } } },
  ],
})
const whole = await listen(withGateway(gw))

const pool = new Pool(`http://${target}`, { connections: 320 })
const bare = await listen(async (req, res) => {
  try {
    const up = await pool.request({ path: req.url!, method: req.method as 'GET', headers: req.headers, body: req.method === 'GET' ? undefined : req })
    res.writeHead(up.statusCode, up.headers as http.OutgoingHttpHeaders)
    up.body.pipe(res)
  } catch {
    res.statusCode = 502
    res.end()
  }
})

async function run(port: number): Promise<{ rps: number; p99: number; errors: number }> {
  const r = await autocannon({ url: `http://127.0.0.1:${port}/bench?x=1`, connections, duration: seconds })
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx }
}

const results: { bare: number[]; ours: number[]; gateway: number[] } = { bare: [], ours: [], gateway: [] }
await run(ours.port) // warm-up every path and its pools
await run(bare.port)
await run(whole.port)
for (let i = 0; i < rounds; i++) {
  for (const [name, port] of [['bare', bare.port], ['ours', ours.port], ['gateway', whole.port]] as const) {
    const r = await run(port)
    results[name].push(r.rps)
    console.error(`${name}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms, errors ${r.errors}`)
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const summary = {
  connections,
  seconds,
  rounds,
  bare_req_per_s: Math.round(mean(results.bare)),
  proxy_req_per_s: Math.round(mean(results.ours)),
  gateway_req_per_s: Math.round(mean(results.gateway)),
  proxy_ratio: +(mean(results.ours) / mean(results.bare)).toFixed(3),
  gateway_ratio: +(mean(results.gateway) / mean(results.bare)).toFixed(3),
}
console.log(JSON.stringify(summary))
await upstream.close()
await pool.close()
await gw.close()
await ext.close()
for (const s of [origin.server, ours.server, bare.server, whole.server]) {
  s.closeAllConnections()
  s.close()
}
