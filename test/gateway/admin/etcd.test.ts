// The Admin API on an etcd gateway (real etcd): 50 connections busy while 100 Admin API
// writes land (10 at a time) — no failed request, every response from one configuration, each
// acknowledged write served by the next request — and a second gateway on the same etcd ends
// on the last write.
import t from 'tap'
import { Pool } from 'undici'
import { ADMIN_KEY, busyClients, call } from './setup.js'
import { eventually, serveGateway, world } from '../etcd/support.js'

t.setTimeout(90_000)

t.test('100 Admin API writes to etcd under 50 busy connections', async (t) => {
  const w = await world(t)
  const gw = await serveGateway(t, w)
  const other = await serveGateway(t, w)
  await gw.gw.ready()
  await other.gw.ready()
  const admin = await gw.gw.listenAdmin({ key: ADMIN_KEY, port: 0 })
  t.teardown(() => new Promise<void>((resolve) => admin.close(() => resolve())))
  const base = `http://127.0.0.1:${(admin.address() as { port: number }).port}`
  const route = (n: number) => ({
    uri: '/v',
    plugins: { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: String(n) }] } },
    upstream: { nodes: { [n % 2 === 0 ? w.a.address : w.b.address]: 1 } },
  })
  const first = await call(base, 'PUT', '/apisix/admin/routes/v', route(0))
  t.equal(first.status, 201, first.text)
  t.equal((first.json as { key: string }).key, '/apisix/routes/v')

  const pool = new Pool(gw.url, { connections: 50 })
  t.teardown(() => pool.close())
  const busy = busyClients(t, pool, '/v', 50)
  while (busy.served < 200) await new Promise((resolve) => setTimeout(resolve, 10))

  const statuses: number[] = []
  let next = 1
  const writer = async (): Promise<void> => {
    while (next <= 100) {
      const n = next++
      statuses.push((await call(base, 'PUT', '/apisix/admin/routes/v', route(n))).status)
    }
  }
  await Promise.all(Array.from({ length: 10 }, writer))
  const last = await call(base, 'PUT', '/apisix/admin/routes/v', route(101))
  t.equal(last.status, 200)
  const after = await pool.request({ path: '/v', method: 'GET' })
  t.equal(((await after.body.json()) as { tag: string }).tag, '101', 'the request after an acknowledged write sees it')
  await busy.stop()

  t.ok(
    statuses.length === 100 && statuses.every((s) => s === 200),
    'every write acknowledged',
  )
  t.equal(busy.failed, 0, 'no failed request')
  t.equal(busy.mixed, 0, 'every response from one configuration')
  t.ok(busy.seen.size > 1, `several versions served (${busy.seen.size})`)
  const listed = (await call(base, 'GET', '/apisix/admin/routes')).json as { total: number; list: Array<{ value: { plugins: unknown } }> }
  t.equal(listed.total, 1)
  t.same(listed.list[0]!.value.plugins, route(101).plugins, 'the Admin API reads what etcd holds')
  t.ok(
    await eventually(async () => JSON.parse((await other.get('/v')).body).tag === '101'),
    'the other gateway on the same etcd converges on the last write',
  )
  // a refused write never reaches etcd
  const refused = await call(base, 'PUT', '/apisix/admin/routes/v', { uri: '/v', upstream_id: 'missing' })
  t.same(refused.json, { error_msg: 'failed to fetch upstream info by upstream id [missing], response code: 404' })
  const stored = await w.client.get('/apisix/routes/v').json()
  t.same((stored as { plugins: unknown }).plugins, route(101).plugins, 'etcd still holds the last good value')
})
