// The Admin API's envelopes, statuses and messages per method and kind (apisix-config.md §8),
// against a real gateway (object source), its Admin API on a real listener, undici as client.
import express from 'express'
import type { RequestListener } from 'node:http'
import t from 'tap'
import { ADMIN_KEY, call, closeServer, hit, listenOn, mount, world, type Mounted, type World } from './setup.js'

t.setTimeout(60_000)

let w: World
let m: Mounted

const initial = (port: number) => ({
  upstreams: [{ id: 'u1', nodes: { [`127.0.0.1:${port}`]: 1 } }],
  services: [{ id: 's1', upstream_id: 'u1', plugins: {} }],
  plugin_configs: [{ id: 'pc1', plugins: { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: 'pc' }] } } }],
  consumer_groups: [{ id: 'g1', plugins: {} }],
  consumers: [{ username: 'jack', group_id: 'g1', plugins: { 'key-auth': { key: 'jack-key' } } }],
  global_rules: [{ id: 'gr1', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'tag', value: 'global' }] } } }],
  routes: [
    { id: 'r1', uri: '/r1', service_id: 's1', plugin_config_id: 'pc1' },
    { id: 'r2', uri: '/r2', upstream_id: 'u1', name: 'second', labels: { team: 'core' } },
  ],
})

t.before(async () => {
  w = await world()
  m = await mount(w, initial(w.a.port))
})
t.teardown(async () => {
  await m?.close()
  await w?.close()
})

const A = '/apisix/admin'
const ids: Record<string, string[]> = {
  routes: ['r1', 'r2'],
  services: ['s1'],
  upstreams: ['u1'],
  plugin_configs: ['pc1'],
  consumers: ['jack'],
  consumer_groups: ['g1'],
  global_rules: ['gr1'],
}

t.test('GET a collection: { total, list: [{ key, value, createdIndex, modifiedIndex }] }, v3 headers', async (t) => {
  for (const [kind, expected] of Object.entries(ids)) {
    const res = await call(m.admin, 'GET', `${A}/${kind}`)
    t.equal(res.status, 200, kind)
    t.equal(res.headers['content-type'], 'application/json', `${kind} content-type`)
    t.equal(res.headers['x-api-version'], 'v3', `${kind} X-API-VERSION`)
    t.ok(res.text.endsWith('}\n'), 'a JSON body ends with a newline, as core.response.exit writes it')
    const body = res.json as { total: number; list: Array<{ key: string; value: Record<string, unknown>; createdIndex: number; modifiedIndex: number }> }
    t.equal(body.total, expected.length, `${kind} total`)
    t.same(
      body.list.map((item) => item.key),
      expected.map((id) => `/apisix/${kind}/${id}`),
      `${kind} keys`,
    )
    for (const item of body.list) {
      t.same(Object.keys(item).sort(), ['createdIndex', 'key', 'modifiedIndex', 'value'])
      t.type(item.createdIndex, 'number')
      t.type(item.modifiedIndex, 'number')
    }
  }
})

t.test('GET one: the envelope, or 404 {"message":"Key not found"}', async (t) => {
  for (const [kind, [id]] of Object.entries(ids)) {
    const res = await call(m.admin, 'GET', `${A}/${kind}/${id}`)
    t.equal(res.status, 200, `${kind}/${id}`)
    const body = res.json as { key: string; value: Record<string, unknown> }
    t.equal(body.key, `/apisix/${kind}/${id}`)
    t.equal(kind === 'consumers' ? body.value.username : body.value.id, id)
    const missing = await call(m.admin, 'GET', `${A}/${kind}/nope`)
    t.equal(missing.status, 404, `${kind}/nope`)
    t.equal(missing.text, '{"message":"Key not found"}\n')
  }
})

// One new object per kind, written with PUT: 201 created, then 200 replaced (create_time kept).
const bodies = (port: number): Array<[string, string, Record<string, unknown>]> => [
  ['routes', 'n1', { uri: '/n1', upstream_id: 'u1' }],
  ['services', 'n1', { upstream: { nodes: { [`127.0.0.1:${port}`]: 1 } }, plugins: {} }],
  ['upstreams', 'n1', { nodes: { [`127.0.0.1:${port}`]: 1 } }],
  ['plugin_configs', 'n1', { plugins: { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: 'n1' }] } } }],
  ['consumers', 'rose', { username: 'rose', plugins: { 'key-auth': { key: 'rose-key' } } }],
  ['consumer_groups', 'n1', { plugins: {} }],
  ['global_rules', 'n1', { plugins: { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: 'g' }] } } }],
]

t.test('PUT with the id in the path: 201 { key, value } created, 200 replaced', async (t) => {
  for (const [kind, id, body] of bodies(w.b.port)) {
    const created = await call(m.admin, 'PUT', `${A}/${kind}/${id}`, body)
    t.equal(created.status, 201, `${kind}: ${created.text}`)
    const value = (created.json as { key: string; value: Record<string, unknown> }).value
    t.same(Object.keys(created.json as object).sort(), ['key', 'value'])
    t.equal((created.json as { key: string }).key, `/apisix/${kind}/${id}`)
    t.type(value.create_time, 'number')
    t.type(value.update_time, 'number')
    if (kind !== 'consumers') t.equal(value.id, id, 'the path id is stored in the value')
    const replaced = await call(m.admin, 'PUT', `${A}/${kind}/${id}`, { ...body, desc: 'again' })
    if (kind === 'global_rules') {
      // a global rule has no desc: the schema says so, in APISIX's words
      t.equal(replaced.status, 400)
      t.equal((replaced.json as { error_msg: string }).error_msg, 'invalid configuration: additional properties forbidden, found desc')
      continue
    }
    t.equal(replaced.status, 200, `${kind} replaced: ${replaced.text}`)
    const again = (replaced.json as { value: Record<string, unknown> }).value
    t.equal(again.create_time, value.create_time, 'create_time kept')
    t.equal(again.desc, 'again')
    const read = await call(m.admin, 'GET', `${A}/${kind}/${id}`)
    t.equal((read.json as { value: { desc: string } }).value.desc, 'again')
  }
})

t.test('PUT to the collection with the id in the body; id rules', async (t) => {
  const put = await call(m.admin, 'PUT', `${A}/routes`, { id: 'inbody', uri: '/inbody', upstream_id: 'u1' })
  t.equal(put.status, 201)
  t.equal((put.json as { key: string }).key, '/apisix/routes/inbody')
  const consumer = await call(m.admin, 'PUT', `${A}/consumers`, { username: 'tom' })
  t.equal(consumer.status, 201)
  t.equal((consumer.json as { key: string }).key, '/apisix/consumers/tom')
  const table: Array<[string, string, unknown, string]> = [
    ['PUT', `${A}/routes`, { uri: '/x', upstream_id: 'u1' }, 'missing route id'],
    ['PUT', `${A}/upstreams`, { nodes: {} }, 'missing upstream id'],
    ['PUT', `${A}/plugin_configs`, { plugins: {} }, 'missing plugin config id'],
    ['PUT', `${A}/routes/a`, { id: 'b', uri: '/x', upstream_id: 'u1' }, 'wrong route id'],
    ['PUT', `${A}/consumer_groups/a`, { id: 'b', plugins: {} }, 'wrong consumer group id'],
    ['PUT', `${A}/consumers/jack`, { username: 'rose' }, 'wrong username'],
    ['PUT', `${A}/routes/x`, undefined, 'missing configurations'],
    ['POST', `${A}/routes`, { id: 'x', uri: '/x', upstream_id: 'u1' }, 'wrong route id, do not need it'],
    ['POST', `${A}/upstreams/x`, { nodes: {} }, 'wrong upstream id, do not need it'],
    ['PUT', `${A}/routes/x`, { uri: '/x', upstream_id: 'u1', create_time: 1 }, 'the property is forbidden:  create_time'],
    ['POST', `${A}/services`, { update_time: 1 }, 'the property is forbidden:  update_time'],
    ['PATCH', `${A}/routes`, { desc: 'x' }, 'missing route id'],
    ['DELETE', `${A}/routes`, undefined, 'missing route id'],
  ]
  for (const [method, path, body, message] of table) {
    const res = await call(m.admin, method, path, body)
    t.equal(res.status, 400, `${method} ${path}`)
    t.same(res.json, { error_msg: message }, `${method} ${path}: ${message}`)
  }
})

t.test('POST: a generated 20-digit id, 201; 405 for the kinds APISIX refuses it', async (t) => {
  const seen: string[] = []
  for (const [kind, body] of [
    ['routes', { uri: '/posted', upstream_id: 'u1' }],
    ['services', { upstream_id: 'u1', plugins: {} }],
    ['upstreams', { nodes: { '127.0.0.1:1': 1 } }],
    ['routes', { uri: '/posted2', upstream_id: 'u1' }],
  ] as const) {
    const res = await call(m.admin, 'POST', `${A}/${kind}`, body)
    t.equal(res.status, 201, kind)
    const { key, value } = res.json as { key: string; value: { id: string } }
    t.match(value.id, /^\d{20}$/)
    t.equal(key, `/apisix/${kind}/${value.id}`)
    seen.push(value.id)
  }
  t.ok(seen[3]! > seen[0]!, 'ids are in creation order')
  for (const [kind, singular] of [
    ['consumers', 'consumer'],
    ['plugin_configs', 'plugin config'],
    ['consumer_groups', 'consumer group'],
    ['global_rules', 'global rule'],
  ] as const) {
    const res = await call(m.admin, 'POST', `${A}/${kind}`, { plugins: {} })
    t.equal(res.status, 405, kind)
    t.same(res.json, { error_msg: `not supported \`POST\` method for ${singular}` })
  }
  const patch = await call(m.admin, 'PATCH', `${A}/consumers/jack`, { desc: 'x' })
  t.equal(patch.status, 405)
  t.same(patch.json, { error_msg: 'not supported `PATCH` method for consumer' })
})

t.test('PATCH and DELETE of a missing object: 404 Key not found', async (t) => {
  for (const method of ['PATCH', 'DELETE']) {
    const res = await call(m.admin, method, `${A}/routes/ghost`, method === 'PATCH' ? { desc: 'x' } : undefined)
    t.equal(res.status, 404, method)
    t.same(res.json, { message: 'Key not found' })
  }
})

t.test('validation: the error in APISIX words, naming the field; the store and the traffic unchanged', async (t) => {
  const before = await call(m.admin, 'GET', `${A}/routes/r2`)
  const table: Array<[string, Record<string, unknown>, string | RegExp]> = [
    ['uri of the wrong type', { uri: 1, upstream_id: 'u1' }, 'invalid configuration: property "uri" validation failed: wrong type: expected string, got integer'],
    ['an unknown field', { uri: '/r2', upstream_id: 'u1', foo: 1 }, 'invalid configuration: additional properties forbidden, found foo'],
    ['a dangling upstream_id', { uri: '/r2', upstream_id: 'nope' }, 'failed to fetch upstream info by upstream id [nope], response code: 404'],
    ['a dangling service_id', { uri: '/r2', service_id: 'nope' }, 'failed to fetch service info by service id [nope], response code: 404'],
    ['an unknown plugin', { uri: '/r2', upstream_id: 'u1', plugins: { 'limit-count': {} } }, 'unknown plugin [limit-count]'],
    [
      'a plugin conf against its schema',
      { uri: '/r2', upstream_id: 'u1', plugins: { 'ext-plugin-pre-req': { conf: 'x' } } },
      'failed to check the configuration of plugin ext-plugin-pre-req err: property "conf" validation failed: wrong type: expected array, got string',
    ],
    ['a bad vars expression', { uri: '/r2', upstream_id: 'u1', vars: [['arg_x', 'nope', 1]] }, /^failed to validate the 'vars' expression: /],
    ['both host and hosts', { uri: '/r2', upstream_id: 'u1', host: 'a.com', hosts: ['b.com'] }, 'only one of host or hosts is allowed'],
  ]
  for (const [what, body, message] of table) {
    const res = await call(m.admin, 'PUT', `${A}/routes/r2`, body)
    t.equal(res.status, 400, what)
    const got = (res.json as { error_msg: string }).error_msg
    if (typeof message === 'string') t.equal(got, message, what)
    else t.match(got, message, what)
  }
  const consumer = await call(m.admin, 'PUT', `${A}/consumers`, { username: 'bad', plugins: { 'key-auth': { key: 1 } } })
  t.equal(
    (consumer.json as { error_msg: string }).error_msg,
    'invalid plugins configuration: failed to check the configuration of plugin key-auth err: property "key" validation failed: wrong type: expected string, got integer',
  )
  const clash = await call(m.admin, 'PUT', `${A}/consumers`, { username: 'copycat', plugins: { 'key-auth': { key: 'jack-key' } } })
  t.equal((clash.json as { error_msg: string }).error_msg, 'duplicate key of plugin key-auth found with consumer: jack')
  const rule = await call(m.admin, 'PUT', `${A}/global_rules/gr2`, { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'tag', value: 'x' }] } } })
  t.equal((rule.json as { error_msg: string }).error_msg, "plugin 'ext-plugin-pre-req' already exists in global rule with id 'gr1'")
  const json = await call(m.admin, 'PUT', `${A}/routes/r2`, '{"uri": ')
  t.equal(json.status, 400)
  t.match((json.json as { error_msg: string }).error_msg, /^invalid request body: /)
  const array = await call(m.admin, 'PUT', `${A}/routes/r2`, [1])
  t.same(array.json, { error_msg: 'invalid configuration: wrong type: expected object, got array' })
  const after = await call(m.admin, 'GET', `${A}/routes/r2`)
  t.same(after.json, before.json, 'the stored object is unchanged')
  t.equal((await call(m.admin, 'GET', `${A}/consumers/bad`)).status, 404, 'nothing half-written')
  const res = await hit(m.url, '/r2')
  t.equal(res.status, 200, 'the route still serves')
})

t.test('DELETE: refused while referenced (APISIX message), then allowed; a consumer takes its credentials', async (t) => {
  const table: Array<[string, string]> = [
    [`${A}/upstreams/u1`, 'can not delete this upstream, route [r2] is still using it now'],
    [`${A}/services/s1`, 'can not delete this service directly, route [r1] is still using it now'],
    [`${A}/plugin_configs/pc1`, 'can not delete this plugin config, route [r1] is still using it now'],
    [`${A}/consumer_groups/g1`, 'can not delete this consumer group, consumer [jack] is still using it now'],
  ]
  for (const [path, message] of table) {
    const res = await call(m.admin, 'DELETE', path)
    t.equal(res.status, 400, path)
    t.same(res.json, { error_msg: message })
  }
  // an upstream only a service uses names the service
  await call(m.admin, 'PUT', `${A}/upstreams/u2`, { nodes: { [`127.0.0.1:${w.b.port}`]: 1 } })
  await call(m.admin, 'PUT', `${A}/services/s2`, { upstream_id: 'u2', plugins: {} })
  const bySevice = await call(m.admin, 'DELETE', `${A}/upstreams/u2`)
  t.same(bySevice.json, { error_msg: 'can not delete this upstream, service [s2] is still using it now' })
  // force skips APISIX's check, but a configuration with a dangling reference is never stored
  const forced = await call(m.admin, 'DELETE', `${A}/upstreams/u2?force=true`)
  t.equal(forced.status, 400)
  t.match((forced.json as { error_msg: string }).error_msg, /^can not delete this upstream, service \[s2\] is still using it now \(force=true/)
  t.equal((await call(m.admin, 'GET', `${A}/upstreams/u2`)).status, 200, 'still there')
  const service = await call(m.admin, 'DELETE', `${A}/services/s2`)
  t.equal(service.status, 200)
  t.same(service.json, { deleted: '1', key: '/apisix/services/s2' })
  const upstream = await call(m.admin, 'DELETE', `${A}/upstreams/u2`)
  t.same(upstream.json, { deleted: '1', key: '/apisix/upstreams/u2' })
  t.equal((await call(m.admin, 'GET', `${A}/upstreams/u2`)).status, 404)
  // an unreferenced object with force: deleted as without it
  await call(m.admin, 'PUT', `${A}/upstreams/u3`, { nodes: { '127.0.0.1:1': 1 } })
  t.equal((await call(m.admin, 'DELETE', `${A}/upstreams/u3?force=true`)).status, 200)
  // a consumer with a credential (the standalone shape keeps it among consumers)
  const gw = m.gw
  const raw = gw.store.snapshot()
  gw.update({ ...raw, consumers: [...(raw.consumers ?? []), { username: 'cred', plugins: {} }, { id: 'cred/credentials/c1', plugins: { 'key-auth': { key: 'cred-key' } } }] })
  const listed = await call(m.admin, 'GET', `${A}/consumers`)
  t.notOk(
    (listed.json as { list: Array<{ key: string }> }).list.some((item) => item.key.includes('/credentials/')),
    'credentials are not listed as consumers',
  )
  t.equal((await call(m.admin, 'DELETE', `${A}/consumers/cred`)).status, 200)
  t.notOk(
    (gw.store.snapshot().consumers ?? []).some((c) => String(c.id ?? '').startsWith('cred/')),
    'its credential went with it',
  )
})

t.test('list filters and pages (page_size 10–500)', async (t) => {
  const bad = await call(m.admin, 'GET', `${A}/routes?page_size=5`)
  t.equal(bad.status, 400)
  t.same(bad.json, { error_msg: 'page_size must be between 10 and 500' })
  t.equal((await call(m.admin, 'GET', `${A}/routes?page_size=501`)).status, 400)
  for (let i = 0; i < 12; i++) await call(m.admin, 'PUT', `${A}/routes/p${i}`, { uri: `/p${i}`, upstream_id: 'u1', name: `paged-${i}` })
  const all = (await call(m.admin, 'GET', `${A}/routes`)).json as { total: number }
  const first = (await call(m.admin, 'GET', `${A}/routes?page=1&page_size=10`)).json as { total: number; list: unknown[] }
  const second = (await call(m.admin, 'GET', `${A}/routes?page=2&page_size=10`)).json as { total: number; list: unknown[] }
  t.equal(first.total, all.total)
  t.equal(first.list.length, 10)
  t.equal(second.list.length, all.total - 10)
  const named = (await call(m.admin, 'GET', `${A}/routes?name=paged-1`)).json as { total: number }
  t.equal(named.total, 3, 'paged-1, paged-10, paged-11')
  const labelled = (await call(m.admin, 'GET', `${A}/routes?label=team:core`)).json as { list: Array<{ key: string }> }
  t.same(
    labelled.list.map((item) => item.key),
    ['/apisix/routes/r2'],
  )
  const uri = (await call(m.admin, 'GET', `${A}/routes?uri=^/p1`)).json as { total: number }
  t.equal(uri.total, 3)
  const filter = (await call(m.admin, 'GET', `${A}/routes?filter=${encodeURIComponent('service_id=s1')}`)).json as { list: Array<{ key: string }> }
  t.same(
    filter.list.map((item) => item.key),
    ['/apisix/routes/r1'],
  )
})

t.test('paths and methods outside the kinds', async (t) => {
  const unknown = await call(m.admin, 'GET', `${A}/foo`)
  t.equal(unknown.status, 404)
  t.same(unknown.json, { error_msg: 'Unsupported resource type: foo' })
  // APISIX resources this gateway does not serve read as empty (a6 config sync lists them all)
  for (const name of ['ssl', 'ssls', 'stream_routes', 'protos', 'secrets', 'plugin_metadata']) {
    const list = await call(m.admin, 'GET', `${A}/${name}?page=1&page_size=500`)
    t.same([list.status, list.json], [200, { total: 0, list: [] }], `${name} lists empty`)
    const one = await call(m.admin, 'GET', `${A}/${name}/key-auth`)
    t.same([one.status, one.json], [404, { message: 'Key not found' }], `${name}/x is not found`)
    const write = await call(m.admin, 'PUT', `${A}/${name}/x`, {})
    t.equal(write.status, 405, `${name} refuses writes`)
  }
  const ttl = await call(m.admin, 'PUT', `${A}/routes/r2?ttl=abc`, { uri: '/r2', upstream_id: 'u1' })
  t.same(ttl.json, { error_msg: 'invalid argument ttl: should be a number' })
  const outside = await call(m.admin, 'GET', '/elsewhere')
  t.equal(outside.status, 404)
})

t.test('plugins: list, reload (PUT only), one plugin schema', async (t) => {
  const list = await call(m.admin, 'GET', `${A}/plugins/list`)
  t.equal(list.status, 200)
  for (const name of ['ext-plugin-pre-req', 'ext-plugin-post-req', 'ext-plugin-post-resp', 'key-auth']) t.ok((list.json as string[]).includes(name), name)
  const reload = await call(m.admin, 'PUT', `${A}/plugins/reload`)
  t.equal(reload.status, 200)
  t.equal(reload.text, 'done')
  for (const method of ['GET', 'POST', 'DELETE']) {
    const res = await call(m.admin, method, `${A}/plugins/reload`)
    t.equal(res.status, 405, method)
    t.same(res.json, { error_msg: `please use PUT method to reload the plugins, ${method} method is not allowed.` })
  }
  const schema = await call(m.admin, 'GET', `${A}/plugins/ext-plugin-pre-req`)
  t.equal(schema.status, 200)
  t.ok((schema.json as { properties: Record<string, unknown> }).properties.conf, 'the conf property')
  const consumerSide = await call(m.admin, 'GET', `${A}/plugins/key-auth?schema_type=consumer`)
  t.ok((consumerSide.json as { properties: Record<string, unknown> }).properties.key, 'key-auth consumer schema has key')
  const missing = await call(m.admin, 'GET', `${A}/plugins/nope`)
  t.equal(missing.status, 404)
  t.same(missing.json, { error_msg: 'plugin not found in subsystem http' })
})

t.test('mounted in an Express app: other paths go on to next(); under a path prefix too', async (t) => {
  for (const prefixed of [false, true]) {
    const app = express()
    const admin = m.gw.adminApi({ key: ADMIN_KEY })
    if (prefixed) app.use('/apisix/admin', admin)
    else app.use(admin)
    app.get('/hello', (_req, res) => void res.send('application'))
    const { server, url } = await listenOn(app as unknown as RequestListener)
    const own = await call(url, 'GET', '/hello')
    t.equal(own.text, 'application', `${prefixed ? 'prefixed' : 'app-wide'}: the application's own route`)
    const listed = await call(url, 'GET', `${A}/routes/r1`)
    t.equal(listed.status, 200, `${prefixed ? 'prefixed' : 'app-wide'}: the Admin API`)
    t.equal((listed.json as { key: string }).key, '/apisix/routes/r1')
    await closeServer(server)
  }
})

t.test('credentials: /consumers/<username>/credentials[/<id>]', async (t) => {
  await call(m.admin, 'PUT', `${A}/consumers`, { username: 'carol' })
  const path = `${A}/consumers/carol/credentials/ci`
  const created = await call(m.admin, 'PUT', path, { plugins: { 'key-auth': { key: 'carol-ci' } } })
  t.equal(created.status, 201, created.text)
  t.equal((created.json as { key: string }).key, '/apisix/consumers/carol/credentials/ci')
  t.equal((created.json as { value: { id: string } }).value.id, 'carol/credentials/ci')
  t.equal((await call(m.admin, 'PUT', path, { plugins: { 'key-auth': { key: 'carol-ci2' } } })).status, 200, 'replaced')
  const list = (await call(m.admin, 'GET', `${A}/consumers/carol/credentials`)).json as { total: number; list: Array<{ key: string }> }
  t.same(
    list.list.map((item) => item.key),
    ['/apisix/consumers/carol/credentials/ci'],
  )
  t.equal(((await call(m.admin, 'GET', path)).json as { value: { plugins: unknown } }).value.plugins !== undefined, true)
  // the credential authenticates its consumer on a key-auth route
  await call(m.admin, 'PUT', `${A}/routes/keyed`, { uri: '/keyed', upstream_id: 'u1', plugins: { 'key-auth': {} } })
  const res = await fetch(`${m.url}/keyed`, { headers: { apikey: 'carol-ci2' } })
  t.equal(res.status, 200, 'served with the credential key')
  await res.text()
  const clash = await call(m.admin, 'PUT', `${A}/consumers/carol/credentials/dup`, { plugins: { 'key-auth': { key: 'jack-key' } } })
  t.equal(clash.status, 400)
  t.match((clash.json as { error_msg: string }).error_msg, /duplicate key of plugin key-auth found with consumer: jack/)
  const orphan = await call(m.admin, 'PUT', `${A}/consumers/nobody/credentials/x`, { plugins: {} })
  t.equal(orphan.status, 400, 'no credential without its consumer')
  const post = await call(m.admin, 'POST', `${A}/consumers/carol/credentials`, { plugins: {} })
  t.same([post.status, post.json], [405, { error_msg: 'not supported `POST` method for credential' }])
  const removed = await call(m.admin, 'DELETE', path)
  t.same(removed.json, { deleted: '1', key: '/apisix/consumers/carol/credentials/ci' })
  t.equal((await call(m.admin, 'GET', path)).status, 404)
})
