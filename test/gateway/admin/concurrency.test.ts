// 50 connections busy on the gateway while 100 Admin API writes land (10 at a time, so the
// write queue is exercised): zero failed requests, every response from one configuration
// (version n tags the request with n and sends it to upstream a when n is even, b when odd),
// and with write-through the file ends as the store does.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Pool } from 'undici'
import { parseConfigObject } from '../../../src/gateway/source/file.js'
import { busyClients, call, mount, sharedWorld } from './setup.js'

t.setTimeout(90_000)

const w = sharedWorld(t)

const route = (n: number, a: number, b: number) => ({
  uri: '/v',
  plugins: { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: String(n) }] } },
  upstream: { nodes: { [`127.0.0.1:${n % 2 === 0 ? a : b}`]: 1 } },
})

for (const writeThrough of [false, true]) {
  t.test(`100 writes under 50 busy connections${writeThrough ? ', written through to the file' : ''}`, async (t) => {
    const file = join(w().dir, `busy-${String(writeThrough)}.yaml`)
    writeFileSync(file, `routes:\n  - id: v\n    uri: /v\n    upstream:\n      nodes:\n        "127.0.0.1:${w().a.port}": 1\n#END\n`)
    const m = await mount(w(), file, { writeThrough })
    const pool = new Pool(m.url, { connections: 50 })
    t.teardown(async () => {
      await pool.close()
      await m.close()
    })
    const busy = busyClients(t, pool, '/v', 50)
    // warm: every connection opened and the runner reached before the writes start
    while (busy.served < 200) await new Promise((resolve) => setTimeout(resolve, 10))
    const servedBefore = busy.served

    const statuses: number[] = []
    let next = 1
    const writer = async (): Promise<void> => {
      while (next <= 100) {
        const n = next++
        const res = await call(m.admin, 'PUT', '/apisix/admin/routes/v', route(n, w().a.port, w().b.port))
        statuses.push(res.status)
      }
    }
    await Promise.all(Array.from({ length: 10 }, writer))
    const servedDuring = busy.served - servedBefore
    // a last write, alone: the next request must show it
    const last = await call(m.admin, 'PUT', '/apisix/admin/routes/v', route(101, w().a.port, w().b.port))
    t.equal(last.status, 200)
    const after = await pool.request({ path: '/v', method: 'GET' })
    t.equal(((await after.body.json()) as { tag: string }).tag, '101', 'the request after an acknowledged write sees it')
    await busy.stop()

    t.equal(statuses.length, 100)
    t.ok(
      statuses.every((s) => s === 200 || s === 201),
      'every write acknowledged',
    )
    t.equal(busy.failed, 0, 'no failed request')
    t.equal(busy.mixed, 0, 'every response from one configuration')
    t.ok(servedDuring > 0, `requests kept flowing while the writes landed (${servedDuring})`)
    t.ok(busy.seen.size > 1, `several versions served (${busy.seen.size})`)
    if (writeThrough) {
      const onDisk = parseConfigObject(readFileSync(file, 'utf8'), file) as { routes: Array<{ plugins: { 'ext-plugin-post-req': { conf: Array<{ value: string }> } } }> }
      t.equal(onDisk.routes[0]!.plugins['ext-plugin-post-req'].conf[0]!.value, '101', 'the file holds the last write')
      t.same(onDisk, m.gw.store.snapshot(), 'the file and the store agree')
    }
  })
}
