// etcd as the gateway's source, against a real etcd: the initial load of keys as APISIX
// writes them (directory keys with `init_dir`, ids in values, POST-style ids, credentials
// under their consumer, kinds this gateway does not serve), then values written straight
// to etcd that cannot load: each is logged with its key and the running object stays.
import t from 'tap'
import { PREFIX, serveGateway, tagged, world } from './support.js'

t.setTimeout(40_000)

const now = 1_700_000_000

t.test('initial load in APISIX layout, then invalid values through the watch', async (t) => {
  const w = await world(t)
  // What `apisix init_etcd` leaves behind, and objects as APISIX's Admin API stores them.
  for (const dir of ['routes', 'upstreams', 'services', 'consumers', 'ssls', 'global_rules', 'plugin_configs', 'protos']) {
    await w.putRaw(dir, 'init_dir')
  }
  await w.putRaw('gen_id', '12')
  await w.put('plugins', [{ name: 'key-auth' }])
  await w.put('upstreams/1', { id: '1', type: 'roundrobin', nodes: { [w.a.address]: 1 }, create_time: now, update_time: now })
  await w.put('routes/1', { id: '1', uri: '/one', upstream_id: '1', plugins: tagged('one'), status: 1, priority: 0, create_time: now, update_time: now })
  await w.put('routes/00000000000000000012', { id: '00000000000000000012', uri: '/posted', upstream: { nodes: { [w.b.address]: 1 } }, plugins: tagged('posted') })
  await w.put('routes/7', { id: 7, uri: '/seven', upstream_id: 1 })
  await w.put('routes/8', { id: 'not-eight', uri: '/eight', upstream_id: '1', plugins: tagged('eight') })
  await w.put('services/s1', { id: 's1', upstream: { nodes: { [w.b.address]: 1 } }, plugins: tagged('service') })
  await w.put('routes/via-service', { id: 'via-service', uri: '/svc', service_id: 's1' })
  await w.put('consumers/alice', { username: 'alice', plugins: { 'key-auth': { key: 'alice-key' } }, create_time: now, update_time: now })
  await w.put('consumers/alice/credentials/ci', { id: 'ci', plugins: { 'key-auth': { key: 'alice-ci-key' } } })
  await w.put('routes/k', { id: 'k', uri: '/k', plugins: { 'key-auth': {} }, upstream_id: '1' })
  await w.put('ssls/1', { id: '1', cert: 'x', key: 'y', snis: ['a.example'] })
  await w.put('ssls/2', { id: '2', cert: 'x', key: 'y', snis: ['b.example'] })
  await w.put('plugin_metadata/http-logger', { log_format: { host: '$host' } })
  await w.put('data_plane/server_info/node-1', { id: 'node-1' })

  const gw = await serveGateway(t, w)
  await gw.gw.ready()

  await t.test('objects load from their keys', async (t) => {
    const one = await gw.get('/one')
    t.equal(one.status, 200)
    t.match(JSON.parse(one.body), { server: 'a', tag: 'one' })
    t.match(JSON.parse((await gw.get('/posted')).body), { server: 'b', tag: 'posted' }, 'a POST-style 20-digit id')
    t.equal((await gw.get('/seven')).status, 200, 'numeric ids in the value and in upstream_id')
    t.match(JSON.parse((await gw.get('/svc')).body), { server: 'b', tag: 'service' }, 'service plugins and upstream')
    t.ok(gw.gw.state.routes.has('8'), 'the id comes from the key, as APISIX sets value.id')
    t.notOk(gw.gw.state.routes.has('not-eight'))
  })

  await t.test('consumers and their credentials', async (t) => {
    t.equal((await gw.get('/k')).status, 401)
    t.equal((await gw.get('/k', { apikey: 'alice-key' })).status, 200)
    t.equal((await gw.get('/k', { apikey: 'alice-ci-key' })).status, 200, 'the credential key under /consumers/alice/credentials/ci')
  })

  await t.test('directory keys skipped silently, unsupported kinds logged once each', async (t) => {
    const infos = gw.logger.entries.filter((e) => e.level === 'info' && /are not served/.test(e.message))
    t.same(infos.map((e) => e.fields.kind).sort(), ['data_plane', 'plugin_metadata', 'ssls'])
    t.ok(infos.every((e) => typeof e.fields.key === 'string'))
    t.same(gw.logger.entries.filter((e) => (e.level === 'error' || e.level === 'warn') && /etcd/.test(e.message)).map((e) => e.message), [], 'init_dir, gen_id and plugins are not errors')
  })

  const errorsFor = (key: string): string[] => gw.logger.entries.filter((e) => e.level === 'error' && e.fields.key === key).map((e) => e.message)

  await t.test('a value that is not JSON: logged with its key, the last good value stays', async (t) => {
    const rev = await w.putRaw('routes/1', '{"id":"1","uri":')
    await gw.applied(rev)
    t.match(errorsFor(`${PREFIX}/routes/1`), [/not JSON.*its last good value stays in effect/])
    t.match(JSON.parse((await gw.get('/one')).body), { server: 'a', tag: 'one' })
  })

  await t.test('a value that fails its schema, and a plugin conf that fails its plugin', async (t) => {
    let rev = await w.put('routes/1', { id: '1', uri: 5, upstream_id: '1' })
    await gw.applied(rev)
    rev = await w.put('upstreams/1', { id: '1', nodes: { [w.b.address]: 'heavy' } })
    await gw.applied(rev)
    rev = await w.put('routes/9', { id: '9', uri: '/nine', upstream_id: '1', plugins: { 'key-auth': { header: 5 } } })
    await gw.applied(rev)
    t.equal(errorsFor(`${PREFIX}/routes/1`).length, 2)
    t.match(errorsFor(`${PREFIX}/upstreams/1`), [/its last good value stays in effect/])
    t.match(errorsFor(`${PREFIX}/routes/9`), [/it is not loaded/])
    t.match(JSON.parse((await gw.get('/one')).body), { server: 'a', tag: 'one' }, 'route 1 and upstream 1 as they were')
    t.equal((await gw.get('/nine')).status, 404)
  })

  await t.test('one burst: the invalid key keeps its last good value, the valid one applies', async (t) => {
    const res = await w.client
      .if(`${PREFIX}/routes/1`, 'Create', '>', 0)
      .then(
        w.client.put(`${PREFIX}/routes/1`).value(JSON.stringify({ id: '1', uri: '/one', upstream_id: 'missing' })),
        w.client.put(`${PREFIX}/routes/2`).value(JSON.stringify({ id: '2', uri: '/two', upstream_id: '1', plugins: tagged('two') })),
      )
      .commit()
    await gw.applied(Number(res.header.revision))
    t.match(errorsFor(`${PREFIX}/routes/1`).at(-1), /failed to fetch upstream info by upstream id \[missing\].*its last good value stays/)
    t.match(JSON.parse((await gw.get('/two')).body), { server: 'a', tag: 'two' })
    t.match(JSON.parse((await gw.get('/one')).body), { tag: 'one' })
  })

  await t.test('deleting an upstream still in use is held back until nothing uses it', async (t) => {
    let rev = await w.del('upstreams/1')
    await gw.applied(rev)
    t.match(errorsFor(`${PREFIX}/upstreams/1`).at(-1), /the deletion is not applied; its last good value stays in effect/)
    t.equal((await gw.get('/two')).status, 200)
    // Every user of upstream 1 moves away (routes 1, 7, 8, k, 2): the held deletion then applies.
    const inline = { nodes: { [w.b.address]: 1 } }
    for (const [id, uri] of [['1', '/one'], ['7', '/seven'], ['8', '/eight'], ['k', '/k'], ['2', '/two']] as const) {
      rev = await w.put(`routes/${id}`, { id, uri, upstream: inline, plugins: id === 'k' ? { 'key-auth': {} } : tagged(`${id}-b`) })
      await gw.applied(rev)
    }
    t.equal(errorsFor(`${PREFIX}/upstreams/1`).filter((m) => /deletion/.test(m)).length, 1, 'retried on every change, logged once')
    t.notOk(gw.gw.state.snapshot.upstreams.has('1'), 'upstream 1 is gone once unused')
    t.match(JSON.parse((await gw.get('/one')).body), { server: 'b', tag: '1-b' }, 'route 1 valid again: its new value applies')
  })

  await t.test('a route written before its upstream loads when the upstream arrives', async (t) => {
    let rev = await w.put('routes/20', { id: '20', uri: '/twenty', upstream_id: '20', plugins: tagged('twenty') })
    await gw.applied(rev)
    t.equal((await gw.get('/twenty')).status, 404)
    t.match(errorsFor(`${PREFIX}/routes/20`), [/it is not loaded/])
    rev = await w.put('upstreams/20', { id: '20', nodes: { [w.a.address]: 1 } })
    await gw.applied(rev)
    t.match(JSON.parse((await gw.get('/twenty')).body), { server: 'a', tag: 'twenty' })
  })

  await t.test('a consumer whose value names another username is refused', async (t) => {
    const rev = await w.put('consumers/bob', { username: 'robert', plugins: { 'key-auth': { key: 'bob-key' } } })
    await gw.applied(rev)
    t.match(errorsFor(`${PREFIX}/consumers/bob`), [/does not match the key/])
  })
})
