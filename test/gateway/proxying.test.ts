// What the gateway answers when it proxies (apisix-config.md §5), on Express, Koa and
// node:http: APISIX's error pages, the route's timeout over the upstream's, the Server
// header, chash on the consumer.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { createExtPlugin } from '../../src/index.js'
import { apisixErrorPage } from '../../src/gateway/error-page.js'
import { withGateway } from '../../adapters/http.js'
import { echoServer, listen, mounts, type Echo } from './support.js'

t.setTimeout(60_000)

const ext = createExtPlugin({})
let a: Echo
let b: Echo
let slowPort: number
let slow: http.Server
let stuckPort: number
let stuck: http.Server
let stuckClosed = 0

t.before(async () => {
  a = await echoServer('a')
  b = await echoServer('b')
  slow = http.createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { server: 'slow-upstream' })
      res.end('slow')
    }, 1500).unref()
  })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  slowPort = (slow.address() as AddressInfo).port
  stuck = http.createServer((req) => req.socket.once('close', () => void stuckClosed++)) // never answers
  await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve))
  stuckPort = (stuck.address() as AddressInfo).port
})

t.teardown(async () => {
  await a?.close()
  await b?.close()
  slow?.closeAllConnections()
  slow?.close()
  stuck?.closeAllConnections()
  stuck?.close()
  await ext.close()
})

const config = () => ({
  upstreams: [
    { id: 'slow', nodes: { [`127.0.0.1:${slowPort}`]: 1 }, timeout: { connect: 1, send: 5, read: 5 } },
    { id: 'sticky', type: 'chash', hash_on: 'consumer', nodes: { [a.address]: 1, [b.address]: 1 } },
  ],
  consumers: [
    { username: 'alice', plugins: { 'key-auth': { key: 'alice-key' } } },
    { username: 'bob', plugins: { 'key-auth': { key: 'bob-key' } } },
  ],
  routes: [
    { id: 'dead', uri: '/dead', upstream: { nodes: { '127.0.0.1:1': 1 } } },
    { id: 'empty', uri: '/empty', upstream: { nodes: {} } },
    { id: 'patient', uri: '/patient', upstream_id: 'slow' },
    { id: 'hurried', uri: '/hurried', upstream_id: 'slow', timeout: { connect: 1, send: 1, read: 0.2 } },
    { id: 'sticky', uri: '/sticky', plugins: { 'key-auth': {} }, upstream_id: 'sticky' },
    { id: 'stuck', uri: '/stuck', upstream: { nodes: { [`127.0.0.1:${stuckPort}`]: 1 } } },
  ],
})

for (const [name, mount] of Object.entries(mounts)) {
  t.test(name, async (t) => {
    const gw = ext.gateway(config())
    const server = await mount(gw)
    t.teardown(async () => {
      await server.close()
      await gw.close()
    })

    const dead = await request(`${server.url}/dead`)
    t.equal(dead.statusCode, 502)
    t.same(Buffer.from(await dead.body.arrayBuffer()), apisixErrorPage(502), "nginx's page, as APISIX sends it")
    t.equal(dead.headers['content-type'], 'text/html; charset=utf-8')
    t.equal(dead.headers['x-apisix-upstream-status'], '502')
    t.equal(dead.headers.server, 'APISIX')

    const empty = await request(`${server.url}/empty`)
    t.equal(empty.statusCode, 503)
    t.same(Buffer.from(await empty.body.arrayBuffer()), apisixErrorPage(503))

    const patient = await request(`${server.url}/patient`)
    t.equal(patient.statusCode, 200, "the upstream's read timeout (5 s)")
    t.equal(await patient.body.text(), 'slow')
    t.equal(patient.headers.server, 'APISIX', "the upstream's Server header replaced")

    const hurried = await request(`${server.url}/hurried`)
    t.equal(hurried.statusCode, 504, "the route's timeout (read 0.2 s) wins over the upstream's")
    t.same(Buffer.from(await hurried.body.arrayBuffer()), apisixErrorPage(504))

    for (const user of ['alice', 'bob']) {
      const servers = new Set<string>()
      for (let i = 0; i < 6; i++) {
        const r = await request(`${server.url}/sticky`, { headers: { apikey: `${user}-key` } })
        servers.add(((await r.body.json()) as { server: string }).server)
      }
      t.equal(servers.size, 1, `chash on the consumer: ${user} stays on one node`)
    }

    const closedBefore = stuckClosed
    const aborter = new AbortController()
    const pending = request(`${server.url}/stuck`, { signal: aborter.signal }).catch(() => 'aborted')
    await new Promise((r) => setTimeout(r, 200))
    aborter.abort()
    t.equal(await pending, 'aborted')
    for (let i = 0; i < 100 && stuckClosed === closedBefore; i++) await new Promise((r) => setTimeout(r, 20))
    t.equal(stuckClosed, closedBefore + 1, 'a client that leaves aborts the upstream request')
  })
}

t.test('serverHeader: false passes the upstream Server header on', async (t) => {
  const gw = ext.gateway(config(), { serverHeader: false })
  const server = await mounts.http(gw)
  t.teardown(async () => {
    await server.close()
    await gw.close()
  })
  const r = await request(`${server.url}/patient`)
  t.equal(r.headers.server, 'slow-upstream')
  await r.body.text()
})

t.test('withGateway without a fallback: global rules then 404 for no match, 503 for a route without upstream', async (t) => {
  const marks: string[] = []
  const local = createExtPlugin({})
  local.register({ name: 'mark', priority: 1, rewrite: () => void marks.push('rewrite'), access: () => void marks.push('access') })
  local.register({ name: 'deny', priority: 1, access: (_c, x) => (x.headers.get('x-deny') === undefined ? undefined : { status: 403, body: 'denied' }) })
  const gw = local.gateway({
    global_rules: [{ id: 'g', plugins: { mark: {}, deny: {} } }],
    routes: [{ id: 'plugins-only', uri: '/only', plugins: { mark: {} } }],
  })
  const server = await listen(withGateway(gw))
  t.teardown(async () => {
    await server.close()
    await gw.close()
    await local.close()
  })
  const missing = await request(`${server.url}/missing`)
  t.equal(missing.statusCode, 404)
  t.equal(await missing.body.text(), '{"error_msg":"404 Route Not Found"}\n')
  t.equal(missing.headers['content-type'], 'text/plain; charset=utf-8')
  t.same(marks, ['rewrite', 'access'], 'the global rules ran first')
  const denied = await request(`${server.url}/missing`, { headers: { 'x-deny': '1' } })
  t.equal(denied.statusCode, 403, 'a global rule may answer an unmatched request')
  t.equal(await denied.body.text(), 'denied')
  const only = await request(`${server.url}/only`)
  t.equal(only.statusCode, 503)
  t.same(Buffer.from(await only.body.arrayBuffer()), apisixErrorPage(503))
})
