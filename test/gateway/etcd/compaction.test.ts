// A compacted watch against a real etcd: the gateway reaches etcd through a TCP proxy, the
// proxy cuts it off, changes land (a put, a delete, a new key) and etcd is compacted past
// the revision the gateway would resume from. On reconnect etcd refuses that revision; the
// gateway reloads in full (the deletion included), then watches on from the reload.
import t from 'tap'
import { etcdProxy } from '../../helpers/etcd.js'
import { eventually, serveGateway, tagged, world } from './support.js'

t.setTimeout(40_000)

t.test('compaction while disconnected means a full reload', async (t) => {
  const w = await world(t)
  const proxy = await etcdProxy(w.etcd.url)
  t.teardown(() => proxy.close())
  const route = (id: string, tag: string): Record<string, unknown> => ({ id, uri: `/${id}`, upstream: { nodes: { [w.a.address]: 1 } }, plugins: tagged(tag) })
  await w.put('routes/c1', route('c1', 'before'))
  await w.put('routes/c2', route('c2', 'doomed'))
  const gw = await serveGateway(t, w, { hosts: [proxy.url] })
  await gw.gw.ready()
  const tagOf = async (path: string): Promise<string | number> => {
    const res = await gw.get(path)
    return res.status === 200 ? (JSON.parse(res.body) as { tag: string }).tag : res.status
  }
  t.equal(await tagOf('/c1'), 'before')
  t.equal(await tagOf('/c2'), 'doomed')

  proxy.block()
  // "lost" once etcd confirmed the watch, "failed" when the cut came before its confirmation: either way it is down
  t.ok(await eventually(() => gw.logger.has('warn', /etcd watch (lost|failed)/)), 'the watch is cut off')
  await w.put('routes/c1', route('c1', 'after'))
  await w.del('routes/c2')
  const revision = await w.put('routes/c3', route('c3', 'new'))
  await w.client.kv.compact({ revision: String(revision), physical: true })
  t.equal(await tagOf('/c1'), 'before', 'cut off: the last configuration serves')

  proxy.unblock()
  await gw.applied(revision)
  t.ok(gw.logger.has('warn', /was compacted.*reloading \/apisix in full/), 'compaction seen as such')
  t.ok(gw.logger.has('info', new RegExp(`reloaded \\d+ objects from /apisix at revision ${revision}`)), 'one range read at the current revision')
  t.equal(await tagOf('/c1'), 'after')
  t.equal(await tagOf('/c2'), 404, 'a deletion missed by the watch is seen by the reload')
  t.equal(await tagOf('/c3'), 'new')

  const later = await w.put('routes/c1', route('c1', 'watched again'))
  await gw.applied(later)
  t.equal(await tagOf('/c1'), 'watched again', 'the watch resumes after the reload')
})
