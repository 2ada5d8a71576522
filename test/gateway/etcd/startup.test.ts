// A gateway started while etcd is down: ready() rejects with EXT_ERR_ETCD, requests get the
// empty configuration's 404, and the source keeps retrying; once etcd is back the whole
// configuration loads and the watch follows from there.
import t from 'tap'
import { eventually, serveGateway, tagged, world } from './support.js'

t.setTimeout(40_000)

t.test('etcd unreachable at start', async (t) => {
  const w = await world(t)
  await w.put('routes/s1', { id: 's1', uri: '/s1', upstream: { nodes: { [w.a.address]: 1 } }, plugins: tagged('s1') })
  await w.etcd.stop()
  const gw = await serveGateway(t, w, { timeout: 1000 })
  await t.rejects(gw.gw.ready(), { code: 'EXT_ERR_ETCD', message: /etcd: cannot read \/apisix from http:\/\/127\.0\.0\.1:\d+/ })
  t.equal((await gw.get('/s1')).status, 404, 'nothing loaded yet: 404')
  await w.etcd.start()
  t.ok(await eventually(async () => (await gw.get('/s1')).status === 200), 'loaded once etcd is back')
  const revision = await w.put('routes/s2', { id: 's2', uri: '/s2', upstream: { nodes: { [w.b.address]: 1 } }, plugins: tagged('s2') })
  await gw.applied(revision)
  t.match(JSON.parse((await gw.get('/s2')).body), { server: 'b', tag: 's2' }, 'and the watch follows')
})
