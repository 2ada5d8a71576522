// The gateway end to end on Express, Koa and node:http: APISIX configurations as the
// ext-plugin documents write them (upstream addresses pointed at local servers), a real
// TypeScript runner on a Unix socket, real upstream servers, real HTTP through undici.
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { withGateway } from '../../adapters/http.js'
import { createExtPlugin, type ExtPlugin } from '../../src/index.js'
import { createRunner, definePlugin, type Runner } from '../../src/runner-server/index.js'
import { appAnswer, echoServer, listen, mounts, type Echo } from './support.js'

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
    parseConf: (value) => {
      prepares.push(value)
      return value
    },
    requestFilter(conf, request) {
      request.headers.set('x-tag', conf)
    },
  }),
]

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

let runner: Runner
let ext: ExtPlugin
let a: Echo
let b: Echo

t.before(async () => {
  runner = createRunner({ plugins })
  const socket = join(dir, 'runner.sock')
  await runner.listen(`unix:${socket}`)
  ext = createExtPlugin({ runner: { socket } })
  a = await echoServer('a')
  b = await echoServer('b')
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

    await t.test('an a6 config sync file (routes with upstream_id), no #END', async (t) => {
      const a6 = join(dir, `${name}-a6.yaml`)
      writeFileSync(
        a6,
        `version: "1"
routes:
  - id: "1"
    uri: /a6/*
    upstream_id: "u1"
    plugins:
      ext-plugin-post-req:
        conf:
          - name: tag
            value: a6
upstreams:
  - id: "u1"
    type: roundrobin
    nodes:
      "127.0.0.1:${b.port}": 1
`,
      )
      const other = ext.gateway(a6)
      const front = await mount(other)
      t.teardown(async () => {
        await front.close()
        await other.close()
      })
      const res = await request(`${front.url}/a6/x`)
      const body = (await res.body.json()) as { server: string; tag: string }
      t.same([res.statusCode, body.server, body.tag], [200, 'b', 'a6'])
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

t.test('watch: 50 busy connections while the file is rewritten 20 times, valid and invalid versions', async (t) => {
  const file = join(dir, 'watched.yaml')
  // Version n sends /v to upstream a (even n) or b (odd n) and tags the request with `v<n>`;
  // /steady is the same in every version. An invalid version has a bad weight (n % 8 == 4)
  // or is cut short before its #END (n % 8 == 0, a half-written file).
  const version = (n: number, valid = true): string => {
    const text = `routes:
  - id: v
    uri: /v
    plugins:
      ext-plugin-post-req:
        conf:
          - name: tag
            value: "v${n}"
    upstream:
      nodes:
        "127.0.0.1:${n % 2 === 0 ? a.port : b.port}": ${valid || n % 8 === 0 ? 1 : '"heavy"'}
  - id: steady
    uri: /steady
    plugins:
      ext-plugin-post-req:
        conf:
          - name: tag
            value: steady-route
    upstream:
      nodes:
        "127.0.0.1:${a.port}": 1
#END
`
    return valid || n % 8 !== 0 ? text : text.slice(0, text.indexOf('  - id: steady'))
  }
  const preparedBefore = (value: string): number => prepares.filter((p) => p === value).length
  t.equal(preparedBefore('steady-route'), 0)
  writeFileSync(file, version(0))
  const gw = ext.gateway(file, { watch: true, debounce: 20 })
  const server = await listen(withGateway(gw))
  t.teardown(async () => {
    await server.close()
    await gw.close()
  })
  let failed = 0
  let mixed = 0
  let served = 0
  const failures: string[] = []
  const seen = new Set<string>()
  let running = true
  const client = async (i: number): Promise<void> => {
    const path = i % 5 === 0 ? '/steady' : '/v'
    while (running) {
      const res = await request(`${server.url}${path}`)
      if (res.statusCode !== 200) {
        failed++
        const text = await res.body.text()
        if (failures.length < 3) failures.push(`${res.statusCode} ${text.slice(0, 200)}`)
        continue
      }
      served++
      const body = (await res.body.json()) as { server: string; tag: string }
      if (path === '/steady') {
        if (body.tag !== 'steady-route' || body.server !== 'a') mixed++
        continue
      }
      // One configuration per response: an even version must come from a, an odd one from b.
      if ((Number(body.tag.slice(1)) % 2 === 0 ? 'a' : 'b') !== body.server) mixed++
      seen.add(body.tag)
    }
  }
  const clients = Array.from({ length: 50 }, (_, i) => client(i))
  const valid: number[] = [0]
  for (let n = 1; n <= 20; n++) {
    const ok = n % 4 !== 0
    writeFileSync(file + '.tmp', version(n, ok))
    renameSync(file + '.tmp', file)
    if (ok) {
      valid.push(n)
      // Wait until the version is served (an invalid one must never be).
      for (let i = 0; i < 500 && !seen.has(`v${n}`); i++) await new Promise((r) => setTimeout(r, 10))
      t.ok(seen.has(`v${n}`), `version ${n} served`)
    } else await new Promise((r) => setTimeout(r, 100))
  }
  running = false
  await Promise.all(clients)
  t.ok(served > 200, `${served} requests served`)
  t.equal(failed, 0, `no failed request ${failures.join(' | ')}`)
  t.equal(mixed, 0, 'every response from one configuration')
  for (const n of [4, 8, 12, 16, 20]) t.notOk(seen.has(`v${n}`), `invalid version ${n} never served`)
  // PrepareConf (counted by the runner plugin's parseConf): one per valid version of the
  // changing route, none for invalid versions, one in all for the unchanged route.
  for (const n of valid) t.equal(preparedBefore(`v${n}`), 1, `version ${n} prepared once`)
  for (const n of [4, 8, 12, 16, 20]) t.equal(preparedBefore(`v${n}`), 0, `invalid version ${n} never prepared`)
  t.equal(preparedBefore('steady-route'), 1, 'the unchanged route prepared once across 20 rewrites')
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
