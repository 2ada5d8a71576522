// The gateway end to end on Express, Koa and node:http: APISIX configurations as the
// ext-plugin documents write them (upstream addresses pointed at local servers), a real
// TypeScript runner on a Unix socket, real upstream servers, real HTTP through undici.
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import Koa from 'koa'
import t from 'tap'
import { request } from 'undici'
import { gateway as expressGateway } from '../../adapters/express.js'
import { withGateway } from '../../adapters/http.js'
import { gateway as koaGateway } from '../../adapters/koa.js'
import { createExtPlugin, type ExtPlugin } from '../../src/index.js'
import type { Gateway } from '../../src/gateway/gateway.js'
import { createRunner, definePlugin, type Runner } from '../../src/runner-server/index.js'

t.setTimeout(120_000)

const dir = mkdtempSync(join(tmpdir(), 'gw-test-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

// Runner plugins: what the documents' routes name.
const prepares: string[] = []
const plugins = [
  definePlugin({
    name: 'ext-plugin-A',
    parseConf: (value) => {
      prepares.push(value)
      return JSON.parse(value) as { enable?: string }
    },
    async responseFilter(conf, response) {
      response.headers.set('x-ext-a', conf.enable ?? 'none')
    },
  }),
  definePlugin({
    name: 'auth',
    parseConf: (value) => JSON.parse(value) as { token: string },
    requestFilter(conf, request, response) {
      if (request.headers.get('x-token') !== conf.token) response.setStatus(403).write('forbidden by runner')
    },
  }),
  definePlugin({
    name: 'tag',
    parseConf: (value) => value,
    requestFilter(conf, request) {
      request.headers.set('x-tag', conf)
    },
  }),
]

async function upstreamServer(name: string): Promise<{ port: number; close: () => Promise<void>; hits: () => number }> {
  let hits = 0
  const server = http.createServer((req, res) => {
    hits++
    const body = JSON.stringify({ server: name, url: req.url, tag: req.headers['x-tag'] ?? null, xff: req.headers['x-forwarded-for'] ?? null })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

function yamlConfig(a: number, b: number, extra = ''): string {
  return `routes:
  - id: index
    uri: /index.html
    plugins:
      ext-plugin-post-resp:
        conf:
          - name: ext-plugin-A
            value: '{"enable":"feature"}'
    upstream:
      type: roundrobin
      nodes:
        "127.0.0.1:${a}": 1
  - id: api
    uri: /api/*
    plugins:
      ext-plugin-pre-req:
        conf:
          - name: auth
            value: '{"token":"s3cret"}'
      ext-plugin-post-req:
        conf:
          - name: tag
            value: api
    upstream_id: "1"
  - id: app
    uri: /app/*
    methods: [GET]
    plugins:
      ext-plugin-post-req:
        conf:
          - name: tag
            value: app
${extra}upstreams:
  - id: "1"
    type: roundrobin
    nodes:
      "127.0.0.1:${a}": 1
      "127.0.0.1:${b}": 1
#END
`
}

interface Mounted {
  readonly url: string
  close(): Promise<void>
}

type Mount = (gw: Gateway) => Promise<Mounted>

async function listen(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<Mounted> {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.closeAllConnections() ?? server.close(() => resolve())),
  }
}

// The application: what a route without upstream, and a request no route matched, reach.
const appAnswer = (method: string | undefined, path: string | undefined, tag: unknown): string => `application ${method} ${path} tag=${String(tag ?? '-')}`

const mounts: Record<string, Mount> = {
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
  http: async (gw) =>
    listen(
      withGateway(gw, (req, res) => {
        res.end(appAnswer(req.method, req.url, req.headers['x-tag']))
      }),
    ),
}

let runner: Runner
let ext: ExtPlugin
let a: Awaited<ReturnType<typeof upstreamServer>>
let b: Awaited<ReturnType<typeof upstreamServer>>

t.before(async () => {
  runner = createRunner({ plugins })
  const socket = join(dir, 'runner.sock')
  await runner.listen(`unix:${socket}`)
  ext = createExtPlugin({ runner: { socket } })
  a = await upstreamServer('a')
  b = await upstreamServer('b')
})

t.teardown(async () => {
  await ext?.close()
  await runner?.close()
  await a?.close()
  await b?.close()
})

for (const [name, mount] of Object.entries(mounts)) {
  t.test(name, async (t) => {
    const file = join(dir, `${name}.yaml`)
    writeFileSync(file, yamlConfig(a.port, b.port))
    const gw = ext.gateway(file)
    const server = await mount(gw)
    t.teardown(async () => {
      await server.close()
      await gw.close()
    })

    await t.test('the post-resp document route is proxied and the runner changes the response', async (t) => {
      const res = await request(`${server.url}/index.html`)
      t.equal(res.statusCode, 200)
      t.equal(res.headers['x-ext-a'], 'feature')
      const body = (await res.body.json()) as { server: string; url: string; xff: string }
      t.equal(body.server, 'a')
      t.equal(body.url, '/index.html')
      t.equal(body.xff, '127.0.0.1', 'X-Forwarded-For added')
    })

    await t.test('pre-req Stop answers without reaching the upstream', async (t) => {
      const before = a.hits() + b.hits()
      const res = await request(`${server.url}/api/orders`)
      t.equal(res.statusCode, 403)
      t.equal(await res.body.text(), 'forbidden by runner')
      t.equal(a.hits() + b.hits(), before)
    })

    await t.test('pre-req passes, post-req rewrites, upstream_id balances over both nodes', async (t) => {
      const servers = new Set<string>()
      for (let i = 0; i < 6; i++) {
        const res = await request(`${server.url}/api/orders?x=${i}`, { headers: { 'x-token': 's3cret' } })
        t.equal(res.statusCode, 200)
        const body = (await res.body.json()) as { server: string; url: string; tag: string }
        t.equal(body.url, `/api/orders?x=${i}`)
        t.equal(body.tag, 'api')
        servers.add(body.server)
      }
      t.same([...servers].sort(), ['a', 'b'])
    })

    await t.test('a route without upstream goes to the application', async (t) => {
      const res = await request(`${server.url}/app/x`)
      t.equal(res.statusCode, 200)
      t.equal(await res.body.text(), appAnswer('GET', '/app/x', 'app'), 'the route ran, then the application')
      const post = await request(`${server.url}/app/x`, { method: 'POST' })
      t.equal(await post.body.text(), appAnswer('POST', '/app/x', undefined), 'methods: [GET] does not match POST')
    })

    await t.test('no match goes on', async (t) => {
      const res = await request(`${server.url}/nothing`)
      t.equal(await res.body.text(), appAnswer('GET', '/nothing', undefined))
    })

    await t.test('an invalid file is refused whole and the running config stays', async (t) => {
      writeFileSync(file + '.tmp', yamlConfig(a.port, b.port).replace('upstream_id: "1"', 'upstream_id: "nope"'))
      renameSync(file + '.tmp', file)
      await t.rejects(gw.reload(), /nope|upstream/)
      const res = await request(`${server.url}/api/x`, { headers: { 'x-token': 's3cret' } })
      t.equal(res.statusCode, 200)
      await res.body.text()
    })

    await t.test('update() swaps a valid config', async (t) => {
      gw.update({
        routes: [{ id: 'only', uri: '/only', upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${b.port}`]: 1 } } }],
      })
      const res = await request(`${server.url}/only`)
      t.equal(((await res.body.json()) as { server: string }).server, 'b')
      const gone = await request(`${server.url}/index.html`)
      t.equal(await gone.body.text(), appAnswer('GET', '/index.html', undefined), 'the old route is gone')
    })
  })
}

t.test('withGateway without a fallback answers APISIX 404', async (t) => {
  const gw = ext.gateway({ routes: [{ id: 'x', uri: '/x', upstream: { nodes: { [`127.0.0.1:${a.port}`]: 1 } } }] })
  const server = await listen(withGateway(gw))
  t.teardown(async () => {
    await server.close()
    await gw.close()
  })
  const res = await request(`${server.url}/missing`)
  t.equal(res.statusCode, 404)
  t.equal(await res.body.text(), '{"error_msg":"404 Route Not Found"}\n')
})

t.test('an unknown plugin is an error listing it; unknownPlugins ignore skips it', async (t) => {
  const config = { routes: [{ id: 'r', uri: '/r', plugins: { 'limit-count': { count: 1 } }, upstream: { nodes: { '127.0.0.1:1': 1 } } }] }
  t.throws(() => ext.gateway(config), /limit-count/)
  const gw = ext.gateway(config, { unknownPlugins: 'ignore' })
  t.equal(gw.state.routes.size, 1)
  await gw.close()
})

t.test('a dead upstream gives 502', async (t) => {
  const gw = ext.gateway({ routes: [{ id: 'dead', uri: '/dead', upstream: { nodes: { '127.0.0.1:1': 1 } } }] })
  const server = await listen(withGateway(gw))
  t.teardown(async () => {
    await server.close()
    await gw.close()
  })
  const res = await request(`${server.url}/dead`)
  t.equal(res.statusCode, 502)
  t.match(await res.body.text(), /502 Bad Gateway/)
})

t.test('the runner prepared each route conf once', async (t) => {
  t.ok(prepares.filter((p) => p === '{"enable":"feature"}').length >= 1)
})

t.test('watch: the file rewritten 20 times under load, valid and invalid versions', async (t) => {
  const file = join(dir, 'watched.yaml')
  // Version n sends /v to upstream a (even n) or b (odd n) and tags the request with n.
  const version = (n: number, valid = true): string => `routes:
  - id: v
    uri: /v
    plugins:
      ext-plugin-post-req:
        conf:
          - name: tag
            value: "${n}"
    upstream:
      nodes:
        "127.0.0.1:${n % 2 === 0 ? a.port : b.port}": ${valid ? 1 : '"heavy"'}
#END
`
  writeFileSync(file, version(0))
  const gw = ext.gateway(file, { watch: true, debounce: 20 })
  const server = await listen(withGateway(gw))
  t.teardown(async () => {
    await server.close()
    await gw.close()
  })
  let failed = 0
  let mixed = 0
  const seen = new Set<string>()
  let running = true
  const client = async (): Promise<void> => {
    while (running) {
      const res = await request(`${server.url}/v`)
      if (res.statusCode !== 200) {
        failed++
        if (failed < 3) console.error('failed', res.statusCode, await res.body.text())
        else await res.body.text()
        continue
      }
      const body = (await res.body.json()) as { server: string; tag: string }
      // One configuration per response: an even tag must come from a, an odd one from b.
      if ((Number(body.tag) % 2 === 0 ? 'a' : 'b') !== body.server) mixed++
      seen.add(body.tag)
    }
  }
  const clients = Array.from({ length: 20 }, client)
  let last = 0
  for (let n = 1; n <= 20; n++) {
    const valid = n % 4 !== 0
    writeFileSync(file + '.tmp', version(n, valid))
    renameSync(file + '.tmp', file)
    if (valid) last = n
    // Wait until a valid version is served (invalid ones must never be).
    if (valid) {
      for (let i = 0; i < 500 && !seen.has(String(n)); i++) await new Promise((r) => setTimeout(r, 10))
      t.ok(seen.has(String(n)), `version ${n} served`)
    } else await new Promise((r) => setTimeout(r, 100))
  }
  running = false
  await Promise.all(clients)
  t.equal(failed, 0, 'no failed request')
  t.equal(mixed, 0, 'every response from one configuration')
  for (const n of [4, 8, 12, 16, 20]) t.notOk(seen.has(String(n)), `invalid version ${n} never served`)
  t.equal(last, 19)
})

t.test('key-auth identifies consumers from the configuration (APISIX messages)', async (t) => {
  const gw = ext.gateway({
    consumers: [{ username: 'alice', plugins: { 'key-auth': { key: 'alice-key' } } }],
    routes: [{ id: 'k', uri: '/k', plugins: { 'key-auth': {} }, upstream: { nodes: { [`127.0.0.1:${a.port}`]: 1 } } }],
  })
  const server = await listen(withGateway(gw))
  t.teardown(async () => {
    await server.close()
    await gw.close()
  })
  const missing = await request(`${server.url}/k`)
  t.equal(missing.statusCode, 401)
  t.match(await missing.body.text(), /Missing API key in request/)
  const wrong = await request(`${server.url}/k`, { headers: { apikey: 'nope' } })
  t.equal(wrong.statusCode, 401)
  t.match(await wrong.body.text(), /Invalid API key in request/)
  const ok = await request(`${server.url}/k`, { headers: { apikey: 'alice-key' } })
  t.equal(ok.statusCode, 200)
  t.equal(((await ok.body.json()) as { server: string }).server, 'a')
})
