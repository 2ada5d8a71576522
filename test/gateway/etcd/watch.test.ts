// Watch-driven changes under load against a real etcd: 40 client connections keep the
// gateway busy while 100 transactions land straight in etcd, each changing two keys (the
// route's tag and the upstream it points at) at one revision. A response mixing two
// configurations would pair a tag with the other parity's server. Zero failed requests,
// every response from one configuration, and the last write served at the end.
import t from 'tap'
import { Agent, request } from 'undici'
import { PREFIX, eventually, serveGateway, tagged, world } from './support.js'

t.setTimeout(40_000)

t.test('100 two-key writes in etcd under 40 busy connections', async (t) => {
  const w = await world(t)
  const upstream = (n: number): string => JSON.stringify({ id: 'u', nodes: { [(n % 2 === 0 ? w.a : w.b).address]: 1 } })
  const route = (n: number): string => JSON.stringify({ id: 'v', uri: '/v', upstream_id: 'u', plugins: tagged(String(n)) })
  // one transaction, one revision: both keys change together
  const write = (n: number) =>
    w.client.kv.txn({
      success: [
        { request_put: { key: Buffer.from(`${PREFIX}/upstreams/u`), value: Buffer.from(upstream(n)) } },
        { request_put: { key: Buffer.from(`${PREFIX}/routes/v`), value: Buffer.from(route(n)) } },
      ],
    })
  await write(0)
  const gw = await serveGateway(t, w)
  await gw.gw.ready()

  const agent = new Agent({ connections: 40 })
  t.teardown(() => agent.close())
  let failed = 0
  let mixed = 0
  let served = 0
  const seen = new Set<number>()
  let running = true
  const client = async (): Promise<void> => {
    while (running) {
      const res = await request(`${gw.url}/v`, { dispatcher: agent })
      const text = await res.body.text()
      if (res.statusCode !== 200) {
        if (failed++ < 3) t.comment(`failed: ${res.statusCode} ${text}`)
        continue
      }
      const body = JSON.parse(text) as { server: string; tag: string }
      const n = Number(body.tag)
      if ((n % 2 === 0 ? 'a' : 'b') !== body.server) mixed++
      seen.add(n)
      served++
    }
  }
  const clients = Array.from({ length: 40 }, client)
  let last = 0
  for (let n = 1; n <= 100; n++) {
    last = Number((await write(n)).header.revision)
    // a little room between writes so some arrive alone and some in bursts
    if (n % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await gw.applied(last)
  t.ok(await eventually(() => seen.has(100)), 'the last write is served')
  running = false
  await Promise.all(clients)
  if (failed > 0) t.comment(gw.logger.lines.filter((l) => /^(warn|error)/.test(l)).slice(0, 5).join('\n'))
  t.equal(failed, 0, 'no failed request')
  t.equal(mixed, 0, 'every response from one configuration')
  t.ok(served > 100, `${served} requests served, ${seen.size} versions seen`)
  t.comment(`${served} requests, ${seen.size} of 101 versions served`)
})
