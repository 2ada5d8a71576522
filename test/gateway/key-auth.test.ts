// key-auth (apisix-config.md §9): APISIX's schema and defaults, priority and type, the 401
// messages and header, header before query, hide_credentials, credentials, anonymous_consumer,
// and the X-Consumer-* headers attachConsumer sets.
import t from 'tap'
import { createExtPlugin } from '../../src/index.js'
import type { Exchange } from '../../src/engine/exchange.js'
import { runRequestPhases } from '../../src/engine/run.js'
import { validateConfig } from '../../src/gateway/config/validate.js'
import type { ConfigSnapshot } from '../../src/gateway/config/types.js'
import { consumerOf, keyAuthPlugin, type KeyAuthConf } from '../../src/gateway/plugins/key-auth.js'
import { exchangeOf, plain } from '../helpers/exchange.js'

t.setTimeout(30_000)

let snapshot: ConfigSnapshot | undefined
const plugin = keyAuthPlugin({ snapshotOf: () => snapshot })
const ext = createExtPlugin({})
ext.register(plugin)

snapshot = validateConfig(
  {
    consumers: [
      { username: 'alice', labels: { custom_id: 'cust-001' }, plugins: { 'key-auth': { key: 'alice-key' } } },
      { username: 'bob', plugins: { 'key-auth': { key: 'bob-key' } } },
      { id: 'bob/credentials/ci', plugins: { 'key-auth': { key: 'bob-ci-key' } } },
      { username: 'guest' },
    ],
  },
  { plugins: ext.plugins },
)

/** The conf as the route compiles it: defaults filled by the schema. */
function conf(raw: Record<string, unknown> = {}): KeyAuthConf {
  const copy = structuredClone(raw)
  ext.plugins.get('key-auth')!.check(copy)
  return copy as unknown as KeyAuthConf
}

async function run(c: KeyAuthConf, x: Exchange) {
  const result = await plugin.rewrite!(c, x)
  return result ?? undefined
}

t.test('schema, defaults, priority, type', async (t) => {
  t.same(conf(), { header: 'apikey', query: 'apikey', hide_credentials: false, realm: 'key' })
  t.equal(plugin.priority, 2500)
  t.equal(plugin.type, 'auth')
  t.throws(() => conf({ hide_credentials: 'yes' }), /hide_credentials/)
  t.throws(() => conf({ anonymous_consumer: '' }), /anonymous_consumer/)
  t.throws(() => validateConfig({ consumers: [{ username: 'a', plugins: { 'key-auth': { key: 1 } } }] }, { plugins: ext.plugins }), /key-auth/, 'the consumer side needs a string key')
})

t.test('401 messages and WWW-Authenticate', async (t) => {
  const missing = await run(conf(), exchangeOf({ url: '/x' }))
  t.same(missing, { status: 401, headers: { 'WWW-Authenticate': 'apikey realm="key"' }, body: { message: 'Missing API key in request' } })
  const invalid = await run(conf({ realm: 'shop' }), exchangeOf({ headers: [['apikey', 'nope']] }))
  t.same(invalid, { status: 401, headers: { 'WWW-Authenticate': 'apikey realm="shop"' }, body: { message: 'Invalid API key in request' } })
})

t.test('header (any case) first, then the query argument', async (t) => {
  const byHeader = exchangeOf({ url: '/x?apikey=bob-key', headers: [['ApiKey', 'alice-key']] })
  t.equal(await run(conf(), byHeader), undefined)
  t.equal(consumerOf(byHeader)?.consumer.username, 'alice')
  const byQuery = exchangeOf({ url: '/x?apikey=bob-key' })
  await run(conf(), byQuery)
  t.equal(consumerOf(byQuery)?.consumer.username, 'bob')
  const custom = exchangeOf({ url: '/x?k=bob-key', headers: [['x-key', 'alice-key']] })
  await run(conf({ header: 'x-key', query: 'k' }), custom)
  t.equal(consumerOf(custom)?.consumer.username, 'alice', 'configured names')
  const badHeader = exchangeOf({ url: '/x?apikey=bob-key', headers: [['apikey', 'wrong']] })
  t.equal((await run(conf(), badHeader))?.status, 401, 'a wrong header is not rescued by a right query argument')
})

t.test('the consumer headers: username, credential, custom id; client values replaced', async (t) => {
  const x = exchangeOf({ headers: [['apikey', 'alice-key'], ['X-Credential-Identifier', 'forged'], ['X-Consumer-Username', 'mallory']] })
  await run(conf(), x)
  t.same([x.headers.get('x-consumer-username'), x.headers.get('x-credential-identifier'), x.headers.get('x-consumer-custom-id')], ['alice', undefined, 'cust-001'])
  const ci = exchangeOf({ headers: [['apikey', 'bob-ci-key'], ['X-Consumer-Custom-ID', 'forged']] })
  await run(conf(), ci)
  t.same([ci.headers.get('x-consumer-username'), ci.headers.get('x-credential-identifier'), ci.headers.get('x-consumer-custom-id')], ['bob', 'ci', undefined], 'a credential identifies its consumer')
  t.equal(consumerOf(ci)?.credentialId, 'ci')
})

t.test('hide_credentials strips the source that was used', async (t) => {
  const h = exchangeOf({ url: '/x?apikey=bob-key&a=1', headers: [['apikey', 'alice-key']] })
  await run(conf({ hide_credentials: true }), h)
  t.equal(h.headers.get('apikey'), undefined)
  t.match(h.requestUri, /apikey=bob-key/, 'the query argument was not the source: kept')
  const q = exchangeOf({ url: '/x?a=1&apikey=bob-key' })
  await run(conf({ hide_credentials: true }), q)
  t.same(q.args.map((a) => a.name), ['a'])
  const kept = exchangeOf({ headers: [['apikey', 'alice-key']] })
  await run(conf(), kept)
  t.equal(kept.headers.get('apikey'), 'alice-key', 'default: kept')
})

t.test('anonymous_consumer', async (t) => {
  const x = exchangeOf({ headers: [['apikey', 'nope']] })
  t.equal(await run(conf({ anonymous_consumer: 'guest', hide_credentials: true }), x), undefined)
  t.equal(consumerOf(x)?.consumer.username, 'guest')
  t.equal(x.headers.get('apikey'), undefined, 'credentials stripped with hide_credentials')
  const lost = await run(conf({ anonymous_consumer: 'nobody' }), exchangeOf())
  t.same(lost?.body, { message: 'Invalid user authorization' })
  t.equal(lost?.status, 401)
})

t.test('no snapshot (outside a gateway): every key is invalid', async (t) => {
  const saved = snapshot
  snapshot = undefined
  t.teardown(() => void (snapshot = saved))
  t.same((await run(conf(), exchangeOf({ headers: [['apikey', 'alice-key']] })))?.body, { message: 'Invalid API key in request' })
})

t.test('the 401 body is JSON with a newline, as APISIX sends it', async (t) => {
  const route = ext.route({ id: 'k', plugins: { 'key-auth': {} } } as Parameters<typeof ext.route>[0])
  const response = await runRequestPhases(route.pipeline, exchangeOf(), ext.logger)
  t.equal(plain(response)?.body, '{"message":"Missing API key in request"}\n')
})
