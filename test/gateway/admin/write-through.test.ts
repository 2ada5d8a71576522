// Write-through: an acknowledged Admin API write replaces the standalone file atomically (in
// its own format: YAML with #END, or JSON), and a new gateway started from that file serves
// the change; a refused write leaves the file as it was.
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseConfigObject } from '../../../src/gateway/source/file.js'
import { renderConfig } from '../../../src/gateway/store/file.js'
import { call, hit, mount, sharedWorld } from './setup.js'

t.setTimeout(60_000)

const w = sharedWorld(t)

const A = '/apisix/admin'

const yaml = (port: number) => `upstreams:
  - id: u1
    nodes:
      "127.0.0.1:${port}": 1
routes:
  - id: "1"
    uri: /w
    upstream_id: u1
    plugins:
      ext-plugin-post-req:
        conf:
          - name: tag
            value: before
#END
`

for (const format of ['yaml', 'json'] as const) {
  t.test(`${format}: the file survives a restart with the change`, async (t) => {
    const file = join(w().dir, `write-through.${format === 'yaml' ? 'yaml' : 'json'}`)
    const text = format === 'yaml' ? yaml(w().a.port) : JSON.stringify(parseConfigObject(yaml(w().a.port), 'x.yaml'))
    writeFileSync(file, text)
    const m = await mount(w(), file, { writeThrough: true })
    const put = await call(m.admin, 'PUT', `${A}/routes/1`, {
      uri: '/w',
      upstream_id: 'u1',
      plugins: { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: 'after' }] } },
    })
    t.equal(put.status, 200, put.text)
    t.equal(((await hit(m.url, '/w')).body as { tag: string }).tag, 'after', 'served at once')
    const posted = await call(m.admin, 'POST', `${A}/routes`, { uri: '/posted', upstream_id: 'u1' })
    t.equal(posted.status, 201)

    const written = readFileSync(file, 'utf8')
    if (format === 'yaml') t.match(written, /#END\n$/, 'YAML keeps its end marker')
    else t.doesNotThrow(() => JSON.parse(written), 'JSON stays JSON')
    t.same(
      readdirSync(w().dir).filter((name) => name.endsWith('.tmp')),
      [],
      'no temporary file left',
    )

    // a refused write: the file stays byte for byte
    const refused = await call(m.admin, 'PUT', `${A}/routes/2`, { uri: '/x', upstream_id: 'missing' })
    t.equal(refused.status, 400)
    t.equal(readFileSync(file, 'utf8'), written, 'a refused write does not touch the file')
    await m.close()

    // a restart: a new gateway from the written file serves the change
    const again = await mount(w(), file)
    t.teardown(() => again.close())
    t.equal(((await hit(again.url, '/w')).body as { tag: string }).tag, 'after')
    t.equal((await hit(again.url, '/posted')).status, 200)
    const listed = (await call(again.admin, 'GET', `${A}/routes`)).json as { total: number }
    t.equal(listed.total, 2)
    const route = (await call(again.admin, 'GET', `${A}/routes/1`)).json as { value: { create_time: number } }
    t.type(route.value.create_time, 'number', 'timestamps are kept in the file')
  })
}

t.test('delete writes through too; without writeThrough the file is never touched', async (t) => {
  const file = join(w().dir, 'delete.yaml')
  writeFileSync(file, yaml(w().a.port))
  const m = await mount(w(), file, { writeThrough: true })
  t.equal((await call(m.admin, 'DELETE', `${A}/routes/1`)).status, 200)
  t.notMatch(readFileSync(file, 'utf8'), /uri: \/w/)
  await m.close()

  const untouched = join(w().dir, 'memory-only.yaml')
  writeFileSync(untouched, yaml(w().a.port))
  const mem = await mount(w(), untouched)
  t.teardown(() => mem.close())
  t.equal((await call(mem.admin, 'DELETE', `${A}/routes/1`)).status, 200)
  t.equal((await hit(mem.url, '/w')).status, 404, 'gone from the running gateway')
  t.equal(readFileSync(untouched, 'utf8'), yaml(w().a.port), 'the file is as it was')
})

t.test('writeThrough needs a file source', async (t) => {
  const gw = w().ext.gateway({}, { writeThrough: true })
  t.teardown(() => gw.close())
  t.throws(() => gw.adminApi({ key: 'k' }), /writeThrough needs a file source/)
})

t.test('renderConfig: empty sections left out; an empty config is a valid YAML file', async (t) => {
  t.equal(renderConfig({}, 'yaml'), '#END\n')
  t.equal(renderConfig({ routes: [] }, 'json'), '{}\n')
  t.same(parseConfigObject(renderConfig({ routes: [{ id: 'a', uri: '/a' }] }, 'yaml'), 'x.yaml'), { routes: [{ id: 'a', uri: '/a' }] })
})

t.test('a watched file edited by hand: the Admin API builds on the edit, never over it', async (t) => {
  const file = join(w().dir, 'watched.yaml')
  writeFileSync(file, yaml(w().a.port))
  const m = await mount(w(), file, { writeThrough: true, watch: true, debounce: 20 })
  t.teardown(() => m.close())
  t.equal((await call(m.admin, 'PUT', `${A}/routes/admin`, { uri: '/admin', upstream_id: 'u1' })).status, 201)
  // an edit by hand: the admin route kept, a new one added
  const edited = readFileSync(file, 'utf8').replace('#END\n', '') + '  - id: hand\n    uri: /hand\n    upstream_id: u1\n#END\n'
  writeFileSync(file + '.tmp', edited)
  renameSync(file + '.tmp', file)
  const seen = (await call(m.admin, 'GET', `${A}/routes/hand`)).status
  t.equal(seen, 200, 'the Admin API reads the edited file')
  t.equal((await call(m.admin, 'PUT', `${A}/routes/after`, { uri: '/after', upstream_id: 'u1' })).status, 201)
  const onDisk = parseConfigObject(readFileSync(file, 'utf8'), file) as { routes: Array<{ id: string }> }
  t.same(
    onDisk.routes.map((r) => r.id),
    ['1', 'admin', 'hand', 'after'],
    'the hand edit survives the next write',
  )
  t.equal((await hit(m.url, '/hand')).status, 200)
  t.equal((await hit(m.url, '/after')).status, 200)
})

t.test('watch and write-through: the watcher never takes an acknowledged write back', async (t) => {
  const file = join(w().dir, 'watched-fast.yaml')
  writeFileSync(file, yaml(w().a.port))
  const m = await mount(w(), file, { writeThrough: true, watch: true, debounce: 1 })
  t.teardown(() => m.close())
  let stale = 0
  for (let n = 0; n < 30; n++) {
    const put = await call(m.admin, 'PUT', `${A}/routes/1`, { uri: '/w', upstream_id: 'u1', plugins: { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: `v${n}` }] } } })
    t.equal(put.status, 200)
    // a few requests after each write, while the watcher sees the renames
    for (let i = 0; i < 3; i++) {
      if (((await hit(m.url, '/w')).body as { tag: string }).tag !== `v${n}`) stale++
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  }
  t.equal(stale, 0, 'every request after a write sees it')
})
