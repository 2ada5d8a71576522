// EtcdStore against a real etcd: what the Admin API writes to when the gateway's source is
// etcd. A put lands in APISIX's layout with APISIX's envelope fields, resolves once the
// local gateway serves it, reports etcd's create/mod revisions; ids for POST come from
// etcd's revision; deleting a consumer takes its credentials; a value the gateway refuses
// is an error; a second gateway on the same etcd follows; and the Admin API on an etcd
// gateway writes there.
import t from 'tap'
import { request } from 'undici'
import { EtcdStore } from '../../../src/gateway/store/etcd.js'
import { PREFIX, eventually, serveGateway, tagged, world } from './support.js'

t.setTimeout(40_000)

t.test('EtcdStore', async (t) => {
  const w = await world(t)
  const gw = await serveGateway(t, w)
  await gw.gw.ready()
  const store = gw.gw.store
  t.ok(store instanceof EtcdStore, 'an etcd gateway writes to etcd')
  const raw = async (path: string): Promise<{ value: Record<string, unknown>; create: number; mod: number } | undefined> => {
    const res = await w.client.get(`${PREFIX}/${path}`).exec()
    const kv = res.kvs[0]
    if (kv === undefined) return undefined
    return { value: JSON.parse(kv.value.toString()) as Record<string, unknown>, create: Number(kv.create_revision), mod: Number(kv.mod_revision) }
  }

  await t.test('put: the key, the envelope, the revisions, served before it resolves', async (t) => {
    await store.put('upstreams', 'u1', { nodes: { [w.a.address]: 1 } })
    const before = Math.floor(Date.now() / 1000)
    const item = await store.put('routes', 'r1', { uri: '/r1', upstream_id: 'u1', plugins: tagged('first'), create_time: 1, update_time: 2 })
    const res = await gw.get('/r1')
    t.equal(res.status, 200, 'the next request sees it')
    t.match(JSON.parse(res.body), { server: 'a', tag: 'first' })
    const stored = await raw('routes/r1')
    t.match(stored?.value, { id: 'r1', uri: '/r1', upstream_id: 'u1' })
    t.ok((stored?.value.create_time as number) >= before, 'create_time set by the store, not taken from the body')
    t.equal(stored?.value.create_time, stored?.value.update_time)
    t.equal(item.createdIndex, stored?.create)
    t.equal(item.modifiedIndex, stored?.mod)
    t.same(item.value, stored?.value)
    t.same(store.get('routes', 'r1'), item)

    await new Promise((resolve) => setTimeout(resolve, 1100))
    const again = await store.put('routes', 'r1', { uri: '/r1', upstream_id: 'u1', plugins: tagged('second') })
    t.equal(again.value.create_time, item.value.create_time, 'create_time kept on replace')
    t.ok((again.value.update_time as number) > (item.value.update_time as number), 'update_time moves')
    t.equal(again.createdIndex, item.createdIndex)
    t.ok(again.modifiedIndex > item.modifiedIndex)
    t.match(JSON.parse((await gw.get('/r1')).body), { tag: 'second' })
  })

  await t.test('consumers keep username, not id; credentials are theirs', async (t) => {
    const consumer = await store.put('consumers', 'alice', { username: 'alice', plugins: { 'key-auth': { key: 'alice-key' } } })
    t.notOk('id' in consumer.value)
    await store.put('consumers', 'alice/credentials/ci', { plugins: { 'key-auth': { key: 'alice-ci' } } })
    t.match((await raw('consumers/alice/credentials/ci'))?.value, { id: 'alice/credentials/ci' })
    t.same(store.list('consumers').map((i) => i.id), ['alice'], 'credentials are not listed as consumers')
    await store.put('routes', 'k', { uri: '/k', upstream_id: 'u1', plugins: { 'key-auth': {} } })
    t.equal((await gw.get('/k', { apikey: 'alice-ci' })).status, 200)
    const removed = await store.delete('consumers', 'alice')
    t.equal(removed?.id, 'alice')
    t.equal(await raw('consumers/alice/credentials/ci'), undefined, 'the credential went with its consumer')
    t.equal((await gw.get('/k', { apikey: 'alice-ci' })).status, 401)
  })

  await t.test('nextId: APISIX-style 20-digit ids from etcd revisions, increasing', async (t) => {
    const a = await store.nextId('routes')
    const b = await store.nextId('routes')
    t.match(a, /^\d{20}$/)
    t.ok(b > a)
    await store.put('routes', b, { uri: '/posted', upstream_id: 'u1' })
    t.equal((await gw.get('/posted')).status, 200)
  })

  await t.test('delete: what was removed, then 404; a missing key gives undefined', async (t) => {
    const removed = await store.delete('routes', 'r1')
    t.match(removed, { kind: 'routes', id: 'r1', value: { uri: '/r1' } })
    t.equal((await gw.get('/r1')).status, 404, 'gone before delete resolved')
    t.equal(await store.delete('routes', 'r1'), undefined)
  })

  await t.test('snapshot: what the gateway runs, in the standalone shape', async (t) => {
    const snapshot = store.snapshot()
    t.same(snapshot.upstreams?.map((u) => u.id), ['u1'])
    t.ok(snapshot.routes?.some((r) => r.id === 'k'))
  })

  await t.test('a write the gateway refuses is an error naming the key', async (t) => {
    await t.rejects(store.put('routes', 'bad', { uri: '/bad', upstream_id: 'missing' }), {
      code: 'EXT_ERR_ETCD_REFUSED',
      message: /\/apisix\/routes\/bad: written at revision \d+ but refused by the gateway: .*failed to fetch upstream info/,
    })
    t.equal((await gw.get('/bad')).status, 404)
  })

  await t.test('a second gateway on the same etcd follows the writes', async (t) => {
    const other = await serveGateway(t, w)
    await other.gw.ready()
    const item = await store.put('routes', 'shared', { uri: '/shared', upstream_id: 'u1', plugins: tagged('shared') })
    await other.applied(item.modifiedIndex)
    t.match(JSON.parse((await other.get('/shared')).body), { tag: 'shared' })
  })

  await t.test('the Admin API on an etcd gateway writes to etcd', async (t) => {
    const server = await gw.gw.listenAdmin({ port: 0, key: 'admin-key' })
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const res = await request(`http://127.0.0.1:${port}/apisix/admin/routes/admin1`, {
      method: 'PUT',
      headers: { 'x-api-key': 'admin-key', 'content-type': 'application/json' },
      body: JSON.stringify({ uri: '/admin1', upstream_id: 'u1', plugins: tagged('via-admin') }),
    })
    t.equal(res.statusCode, 201, await res.body.text())
    t.match((await raw('routes/admin1'))?.value, { id: 'admin1', uri: '/admin1' })
    t.match(JSON.parse((await gw.get('/admin1')).body), { tag: 'via-admin' })
    t.ok(await eventually(async () => (await gw.get('/admin1')).status === 200))
  })
})
