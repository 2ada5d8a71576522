// PATCH with APISIX's merge semantics (objects merged, arrays replaced, null deletes), and
// PATCH of a sub-path (`/routes/1/plugins`, `/upstreams/1/nodes`): unit table, then end to end.
import t from 'tap'
import { mergePatch, patchSubPath } from '../../../src/gateway/admin/patch.js'
import { call, hit, mount, sharedWorld } from './setup.js'

t.setTimeout(60_000)

t.test('mergePatch table', async (t) => {
  const table: Array<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]> = [
    ['a new key is added', { a: 1 }, { b: 2 }, { a: 1, b: 2 }],
    ['a scalar is replaced', { a: 1 }, { a: 2 }, { a: 2 }],
    ['null deletes', { a: 1, b: 2 }, { a: null }, { b: 2 }],
    ['null of an absent key is nothing', { a: 1 }, { z: null }, { a: 1 }],
    ['objects merge recursively', { o: { x: 1, y: 2 } }, { o: { y: 3, z: 4 } }, { o: { x: 1, y: 3, z: 4 } }],
    ['null deletes deep', { o: { x: 1, y: 2 } }, { o: { x: null } }, { o: { y: 2 } }],
    ['arrays are replaced, not merged', { l: [1, 2, 3] }, { l: [9] }, { l: [9] }],
    ['an object replaces an array', { l: [1] }, { l: { k: 1 } }, { l: { k: 1 } }],
    ['an array replaces an object', { o: { k: 1 } }, { o: [1] }, { o: [1] }],
    ['a scalar replaces an object', { o: { k: 1 } }, { o: 'x' }, { o: 'x' }],
    ['nulls inside a new object are dropped', { a: 1 }, { o: { k: null, j: 1 } }, { a: 1, o: { j: 1 } }],
    ['an empty patch changes nothing', { a: { b: [1] } }, {}, { a: { b: [1] } }],
  ]
  for (const [what, target, patch, expected] of table) {
    const before = structuredClone(target)
    t.same(mergePatch(target, patch), expected, what)
    t.same(target, before, `${what}: the target is not changed`)
  }
})

t.test('patchSubPath table', async (t) => {
  const base = { id: '1', uri: '/x', upstream: { nodes: { 'a:1': 1 }, type: 'roundrobin' }, plugins: { p: { v: 1 } } }
  const table: Array<[string, string, unknown, Record<string, unknown> | string]> = [
    ['a top-level key replaced whole', 'plugins', { q: {} }, { ...base, plugins: { q: {} } }],
    ['a nested key replaced whole (no merge)', 'upstream/nodes', { 'b:2': 1 }, { ...base, upstream: { nodes: { 'b:2': 1 }, type: 'roundrobin' } }],
    ['a scalar', 'uri', '/y', { ...base, uri: '/y' }],
    ['missing objects on the way are created', 'labels/team', 'core', { ...base, labels: { team: 'core' } }],
    ['null removes the key', 'plugins', null, { id: '1', uri: '/x', upstream: base.upstream }],
    ['a scalar on the way', 'uri/deeper', 1, 'invalid sub-path: /uri'],
    ['deeper under a scalar', 'upstream/type/x/y', 1, 'invalid sub-path: /upstream/type'],
  ]
  for (const [what, path, value, expected] of table) {
    const result = patchSubPath(base, path, value)
    if (typeof expected === 'string') t.equal(result.error, expected, what)
    else t.same(result.value, expected, what)
  }
  t.same(base.plugins, { p: { v: 1 } }, 'the target is not changed')
})

const w = sharedWorld(t)

t.test('PATCH end to end: stored, re-validated whole, served', async (t) => {
  const m = await mount(w(), {
    upstreams: [{ id: 'u1', nodes: { [`127.0.0.1:${w().a.port}`]: 1 } }],
    routes: [
      {
        id: '1',
        uri: '/p',
        methods: ['GET', 'POST'],
        labels: { team: 'core', tier: 'gold' },
        plugins: { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: 'one' }] } },
        upstream_id: 'u1',
      },
    ],
  })
  t.teardown(() => m.close())
  const A = '/apisix/admin'
  const first = await hit(m.url, '/p')
  t.equal((first.body as { tag: string }).tag, 'one')

  const merged = await call(m.admin, 'PATCH', `${A}/routes/1`, { desc: 'patched', methods: ['GET'], labels: { tier: null, env: 'prod' } })
  t.equal(merged.status, 200, merged.text)
  t.same(Object.keys(merged.json as object).sort(), ['key', 'value'])
  const value = (merged.json as { value: Record<string, unknown> }).value
  t.equal(value.desc, 'patched')
  t.same(value.methods, ['GET'], 'the array replaced')
  t.same(value.labels, { team: 'core', env: 'prod' }, 'merged, null deleted')
  t.type(value.update_time, 'number')
  t.same(value.plugins, { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: 'one' }] } }, 'untouched keys kept')

  const sub = await call(m.admin, 'PATCH', `${A}/routes/1/plugins`, { 'ext-plugin-post-req': { conf: [{ name: 'tag', value: 'two' }] } })
  t.equal(sub.status, 200)
  const after = await hit(m.url, '/p')
  t.equal((after.body as { tag: string }).tag, 'two', 'the next request runs the patched plugins')

  const nodes = await call(m.admin, 'PATCH', `${A}/upstreams/u1/nodes`, { [`127.0.0.1:${w().b.port}`]: 1 })
  t.equal(nodes.status, 200)
  t.same((nodes.json as { value: { nodes: unknown } }).value.nodes, { [`127.0.0.1:${w().b.port}`]: 1 }, 'the sub-tree replaced, not merged')
  t.equal(((await hit(m.url, '/p')).body as { server: string }).server, 'b')

  // the merged result is validated whole
  const invalid = await call(m.admin, 'PATCH', `${A}/routes/1`, { uri: null })
  t.equal(invalid.status, 400)
  t.match((invalid.json as { error_msg: string }).error_msg, /uri/)
  const badSub = await call(m.admin, 'PATCH', `${A}/routes/1/uri/x`, 1)
  t.same(badSub.json, { error_msg: 'invalid sub-path: /uri' })
  const badId = await call(m.admin, 'PATCH', `${A}/routes/1`, { id: '2' })
  t.same(badId.json, { error_msg: 'wrong route id' })
  const notObject = await call(m.admin, 'PATCH', `${A}/routes/1`, [1])
  t.same(notObject.json, { error_msg: 'invalid configuration' })
  const empty = await call(m.admin, 'PATCH', `${A}/routes/1`)
  t.same(empty.json, { error_msg: 'missing new configuration' })
  const stored = (await call(m.admin, 'GET', `${A}/routes/1`)).json as { value: { uri: string; desc: string } }
  t.equal(stored.value.uri, '/p', 'refused patches changed nothing')
  t.equal(((await hit(m.url, '/p')).body as { tag: string }).tag, 'two')
})
