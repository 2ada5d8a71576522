// The realistic apisix.yaml of the example (examples/gateway/apisix.yaml: a global rule, an
// upstream, a service, a plugin config, a consumer group, a key-auth consumer, five routes)
// served on Express, Koa and node:http with the demo runner plugins, against two loopback
// upstreams whose ports the file takes from ${{UPSTREAM_A_PORT}} / ${{UPSTREAM_B_PORT}}.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { createExtPlugin, type ExtPlugin } from '../../src/index.js'
import { createRunner, type Runner } from '../../src/runner-server/index.js'
import demo from '../../src/runner-server/demo/index.js'
import { appAnswer, mounts } from './support.js'

t.setTimeout(60_000)

const file = fileURLToPath(new URL('../../examples/gateway/apisix.yaml', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'gw-example-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

interface Answer {
  readonly upstream: string
  readonly url: string
  readonly service: string | null
  readonly consumer: string | null
  readonly card: string
}

function upstream(name: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ upstream: name, url: req.url, service: req.headers['x-service'] ?? null, consumer: req.headers['x-consumer-username'] ?? null, card: '4111-1111-1111-1111' })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

let runner: Runner
let ext: ExtPlugin
let nodes: http.Server[]

t.before(async () => {
  nodes = [await upstream('a'), await upstream('b')]
  process.env.UPSTREAM_A_PORT = String((nodes[0]!.address() as AddressInfo).port)
  process.env.UPSTREAM_B_PORT = String((nodes[1]!.address() as AddressInfo).port)
  runner = createRunner({ plugins: demo })
  const socket = join(dir, 'runner.sock')
  await runner.listen(`unix:${socket}`)
  ext = createExtPlugin({ runner: { socket } })
})

t.teardown(async () => {
  await ext?.close()
  await runner?.close()
  for (const node of nodes ?? []) {
    node.closeAllConnections()
    node.close()
  }
})

for (const [name, mount] of Object.entries(mounts)) {
  t.test(name, async (t) => {
    const gw = ext.gateway(file)
    const server = await mount(gw)
    t.teardown(async () => {
      await server.close()
      await gw.close()
    })

    const index = await request(`${server.url}/index.html`)
    t.equal(index.statusCode, 200)
    t.equal(index.headers['x-route'], 'index', "the route's pre-req set a response header")
    const indexBody = (await index.body.json()) as Answer
    t.same([indexBody.upstream, indexBody.card], ['a', '[card]'], "inline upstream; the global rule's post-resp redacted the card")

    const refused = await request(`${server.url}/api/orders`)
    t.equal(refused.statusCode, 401, "the plugin config's auth stops it")
    await refused.body.text()
    const seen = new Set<string>()
    for (let i = 0; i < 4; i++) {
      const r = await request(`${server.url}/api/orders`, { headers: { 'x-api-key': 's3cret' } })
      const body = (await r.body.json()) as Answer
      t.same([r.statusCode, body.url, body.service], [200, '/v1/orders', 'orders'], "the service's post-req rewrote path and header")
      seen.add(body.upstream)
    }
    t.same([...seen].sort(), ['a', 'b'], "the service's upstream_id balances over both nodes")

    const echo = await request(`${server.url}/echo?name=you`)
    t.equal(echo.statusCode, 200)
    t.match(await echo.body.text(), /you/, 'the runner answered itself')

    const anonymous = await request(`${server.url}/private`)
    t.equal(anonymous.statusCode, 401)
    await anonymous.body.text()
    const alice = await request(`${server.url}/private`, { headers: { apikey: 'alice-secret' } })
    const aliceBody = (await alice.body.json()) as Answer
    t.same([alice.statusCode, aliceBody.consumer, aliceBody.service], [200, 'alice', 'gold-tier'], "key-auth found alice; her group's plugin ran")

    const none = await request(`${server.url}/nothing`)
    t.equal(await none.body.text(), appAnswer('GET', '/nothing', undefined), 'no route: the application')
  })
}
