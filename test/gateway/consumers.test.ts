// Consumer and consumer-group plugins run after authentication (apisix-config.md §3 step 4,
// §9), and the phase order of global rules against the route's (§4), on Express, Koa and
// node:http, with the real TypeScript runner and a loopback upstream.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { createExtPlugin, type ExtPlugin } from '../../src/index.js'
import { PREPARE_CONF_CHANNEL } from '../../src/diagnostics/names.js'
import type { PrepareConfContext } from '../../src/diagnostics/contexts.js'
import type { Exchange } from '../../src/engine/exchange.js'
import type { Plugin } from '../../src/engine/plugin.js'
import type { GatewayOptions } from '../../src/gateway/gateway.js'
import { attachConsumer } from '../../src/index.js'
import { createRunner, definePlugin, type Runner } from '../../src/runner-server/index.js'
import { echoServer, mounts, type Echo, type EchoBody } from './support.js'

t.setTimeout(60_000)

const dir = mkdtempSync(join(tmpdir(), 'gw-consumers-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const append = (exchange: Exchange, name: string, value: string): void => {
  const old = exchange.headers.get(name)
  exchange.headers.set(name, old === undefined ? value : `${old},${value}`)
}

// In-process plugins whose effects the echo upstream reports.
const inProcess: Plugin<Record<string, string>>[] = [
  { name: 'mark-rewrite', priority: 100, rewrite: (conf, x) => append(x, 'x-order', conf.label!) },
  { name: 'mark-access', priority: 100, access: (conf, x) => append(x, 'x-order', conf.label!) },
  { name: 'set-tag', priority: 50, access: (conf, x) => void x.headers.set('x-tag', conf.value!) },
  { name: 'rw-tag', priority: 50, rewrite: (conf, x) => void x.headers.set('x-rw', conf.value!) },
  {
    name: 'resp-tag',
    priority: 10,
    response: (conf, x) => void x.response!.headers.set('x-resp', conf.value!),
  },
]
// A custom auth plugin: trusts `x-user` / `x-group`, attaches a consumer that is not in the configuration.
const headerAuth = {
  name: 'header-auth',
  type: 'auth',
  priority: 2600,
  rewrite(_conf: unknown, x: Exchange) {
    const username = x.headers.get('x-user')
    if (username === undefined) return { status: 401 }
    const group = x.headers.get('x-group')
    attachConsumer(x, { consumer: { username, ...(group === undefined ? {} : { group_id: group }) }, plugin: 'header-auth' })
    return undefined
  },
} as Plugin<unknown> & { type: 'auth' }

let runner: Runner
let ext: ExtPlugin
let up: Echo
const prepared: string[] = []
const onPrepare = (message: unknown): void => void prepared.push((message as PrepareConfContext).key)

t.before(async () => {
  runner = createRunner({
    plugins: [definePlugin({ name: 'tag', parseConf: (v) => v, requestFilter: (conf, req) => void req.headers.set('x-tag', conf) })],
  })
  const socket = join(dir, 'runner.sock')
  await runner.listen(`unix:${socket}`)
  ext = createExtPlugin({ runner: { socket } })
  for (const p of inProcess) ext.register(p)
  ext.register(headerAuth)
  up = await echoServer('up')
  subscribe(PREPARE_CONF_CHANNEL, onPrepare)
})

t.teardown(async () => {
  unsubscribe(PREPARE_CONF_CHANNEL, onPrepare)
  await ext?.close()
  await runner?.close()
  await up?.close()
})

const config = () => ({
  global_rules: [{ id: 'g', plugins: { 'mark-rewrite': { label: 'g-rw' }, 'mark-access': { label: 'g-ac' } } }],
  consumer_groups: [{ id: 'gold', plugins: { 'set-tag': { value: 'group' }, 'resp-tag': { value: 'gold' } } }],
  consumers: [
    // consumer over group over route
    { username: 'alice', group_id: 'gold', plugins: { 'key-auth': { key: 'alice-key' }, 'set-tag': { value: 'alice' }, 'mark-access': { label: 'alice-ac' } } },
    { username: 'bob', group_id: 'gold', plugins: { 'key-auth': { key: 'bob-key' } } },
    { username: 'carol', plugins: { 'key-auth': { key: 'carol-key' } } },
    // a rewrite plugin the route lacks runs after auth; one it has does not run again (§3.1 example 3)
    { username: 'dave', plugins: { 'key-auth': { key: 'dave-key' }, 'rw-tag': { value: 'dave' }, 'mark-rewrite': { label: 'dave-rw' } } },
    { username: 'frank', group_id: 'gold', plugins: { 'key-auth': { key: 'frank-key' }, 'ext-plugin-post-req': { conf: [{ name: 'tag', value: 'frank' }] } } },
    // a disabled consumer instance shadows the route's: set-tag does not run
    { username: 'gina', plugins: { 'key-auth': { key: 'gina-key' }, 'set-tag': { value: 'gina', _meta: { disable: true } } } },
  ],
  routes: [
    {
      id: 'private',
      uri: '/private',
      plugins: { 'key-auth': {}, 'set-tag': { value: 'route' }, 'mark-rewrite': { label: 'route-rw' }, 'mark-access': { label: 'route-ac' } },
      upstream: { nodes: { [up.address]: 1 } },
    },
    { id: 'custom', uri: '/custom', plugins: { 'header-auth': {}, 'set-tag': { value: 'route' } }, upstream: { nodes: { [up.address]: 1 } } },
  ],
})

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: EchoBody | string; text: string; headers: Record<string, unknown> }> {
  const res = await request(url, { headers })
  const text = await res.body.text()
  let body: EchoBody | string = text
  try {
    body = JSON.parse(text) as EchoBody
  } catch {
    // an error page
  }
  return { status: res.statusCode, body, text, headers: res.headers }
}

const echoed = (r: { body: EchoBody | string }): EchoBody => r.body as EchoBody

for (const [name, mount] of Object.entries(mounts)) {
  for (const phaseOrder of ['apisix-3.17', 'legacy'] as const) {
    t.test(`${name}, phaseOrder ${phaseOrder}`, async (t) => {
      const gw = ext.gateway(config(), { phaseOrder } satisfies GatewayOptions)
      const server = await mount(gw)
      t.teardown(async () => {
        await server.close()
        await gw.close()
      })
      const url = `${server.url}/private`
      const order = (label: string): string =>
        phaseOrder === 'legacy' ? `g-rw,g-ac,route-rw,${label}` : `g-rw,route-rw,g-ac,${label}`

      const carol = await get(url, { apikey: 'carol-key' })
      t.equal(carol.status, 200)
      t.equal(echoed(carol).headers['x-order'], order('route-ac'), 'global and route phases in order')
      t.equal(echoed(carol).tag, 'route', 'no consumer plugins: the route instance')
      t.equal(echoed(carol).headers['x-consumer-username'], 'carol')
      t.equal(carol.headers['x-resp'], undefined)

      const alice = await get(url, { apikey: 'alice-key' })
      t.equal(echoed(alice).tag, 'alice', 'consumer beats group and route')
      t.equal(echoed(alice).headers['x-order'], order('alice-ac'), "the consumer's access instance replaces the route's")
      t.equal(alice.headers['x-resp'], 'gold', "the group's response plugin runs on a route that has none")

      const bob = await get(url, { apikey: 'bob-key' })
      t.equal(echoed(bob).tag, 'group', 'group beats route')
      t.equal(bob.headers['x-resp'], 'gold')

      const dave = await get(url, { apikey: 'dave-key' })
      t.equal(echoed(dave).headers['x-rw'], 'dave', 'a rewrite plugin only the consumer has runs after auth')
      t.equal(echoed(dave).headers['x-order'], order('route-ac'), "the route's instance of a shared rewrite plugin is the one that ran")

      const frank = await get(url, { apikey: 'frank-key' })
      t.equal(echoed(frank).tag, 'frank', "the consumer's ext-plugin-post-req asked the runner")
      t.ok(
        prepared.some((k) => k.startsWith('route&consumer&consumer_group#private&frank&gold#ext-plugin-post-req#')),
        'conf token keyed route&consumer&consumer_group#<route>&<username>&<group>',
      )

      const gina = await get(url, { apikey: 'gina-key' })
      t.equal(echoed(gina).tag, null, "a disabled consumer instance shadows the route's")

      const none = await get(url)
      t.equal(none.status, 401)
      t.equal(none.text, '{"message":"Missing API key in request"}\n')

      const custom = await get(`${server.url}/custom`, { 'x-user': 'zed' })
      t.equal(custom.status, 200, 'a custom auth plugin attaches a consumer that is not in the configuration')
      t.equal(echoed(custom).headers['x-consumer-username'], 'zed')
      const lost = await get(`${server.url}/custom`, { 'x-user': 'zed', 'x-group': 'nope' })
      t.equal(lost.status, 503, 'its group is missing: 503, as APISIX')
    })
  }
}

t.test('consumer confs are prepared once per route and consumer, and again only when they change', async (t) => {
  const gw = ext.gateway(config())
  const server = await mounts.http(gw)
  t.teardown(async () => {
    await server.close()
    await gw.close()
  })
  const count = (): number => prepared.filter((k) => k.startsWith('route&consumer&consumer_group#private&frank&gold#')).length
  const before = count()
  for (let i = 0; i < 5; i++) await get(`${server.url}/private`, { apikey: 'frank-key' })
  t.equal(count(), before, 'already prepared by the earlier tests: same key, no PrepareConf')
  const changed = config()
  changed.consumers[4]!.plugins['ext-plugin-post-req'] = { conf: [{ name: 'tag', value: 'frank2' }] }
  gw.update(changed)
  const r = await get(`${server.url}/private`, { apikey: 'frank-key' })
  t.equal(echoed(r).tag, 'frank2')
  t.equal(count(), before + 1, 'a changed consumer conf prepares once')
})
