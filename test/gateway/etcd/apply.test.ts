// applyChange on its own (no etcd): which keys keep their last good value when a change
// cannot load whole. `prepare` is the real validator; commits are recorded.
import t from 'tap'
import { validateConfig } from '../../../src/gateway/config/validate.js'
import { applyChange, type Prepare } from '../../../src/gateway/source/etcd-apply.js'
import { parseEntry, type EtcdEntry, type EtcdItem } from '../../../src/gateway/source/etcd-keys.js'
import type { Kind, RawConfig } from '../../../src/gateway/store/types.js'
import { keyAuthPlugin } from '../../../src/gateway/plugins/key-auth.js'
import { createExtPlugin } from '../../../src/index.js'

// key-auth known to the validator, as a gateway registers it
const ext = createExtPlugin({ runner: { socket: '/nonexistent/runner.sock' } })
ext.register(keyAuthPlugin({ snapshotOf: () => undefined }))
t.teardown(() => ext.close())

let revision = 0
const entry = (kind: Kind, id: string, value: unknown, created?: number): EtcdEntry => {
  revision++
  return parseEntry(`/apisix/${kind}/${id}`, kind, id, typeof value === 'string' ? value : JSON.stringify(value), created ?? revision, revision)
}
const mirrorOf = (...entries: EtcdEntry[]): Map<string, EtcdEntry> => new Map(entries.map((e) => [e.key, e]))
const goodOf = (mirror: Map<string, EtcdEntry>): Map<string, EtcdItem> =>
  new Map([...mirror].filter(([, e]) => e.item !== undefined).map(([k, e]) => [k, e.item!]))

const committed: RawConfig[] = []
const prepare: Prepare = (config) => {
  validateConfig(config, { plugins: ext.plugins })
  return { commit: () => void committed.push(config), discard: () => {} }
}
const nodes = { '127.0.0.1:1980': 1 }

t.test('a deletion that breaks an unchanged route is held back; the rest of the change applies', async (t) => {
  const u1 = entry('upstreams', 'u1', { id: 'u1', nodes })
  const r1 = entry('routes', 'r1', { id: 'r1', uri: '/a', upstream_id: 'u1' })
  const good = goodOf(mirrorOf(u1, r1))
  const r2 = entry('routes', 'r2', { id: 'r2', uri: '/b', upstream: { nodes } })
  const result = applyChange(mirrorOf(r1, r2), good, prepare, revision)
  t.ok(result.swapped)
  t.same([...result.good.keys()].sort(), ['/apisix/routes/r1', '/apisix/routes/r2', '/apisix/upstreams/u1'])
  t.match(result.refusals, [{ key: '/apisix/upstreams/u1', kept: true, error: { message: /failed to fetch upstream info/ } }])
})

t.test('a key-auth key taken from an unchanged consumer: the changed one keeps its last good value', async (t) => {
  const alice = entry('consumers', 'alice', { username: 'alice', plugins: { 'key-auth': { key: 'a' } } })
  const bob = entry('consumers', 'bob', { username: 'bob', plugins: { 'key-auth': { key: 'b' } } })
  const good = goodOf(mirrorOf(alice, bob))
  const alice2 = entry('consumers', 'alice', { username: 'alice', plugins: { 'key-auth': { key: 'b' } } }, alice.item!.createRevision)
  const result = applyChange(mirrorOf(alice2, bob), good, prepare, revision)
  t.notOk(result.swapped, 'nothing else changed')
  t.equal(result.good.get('/apisix/consumers/alice'), alice.item)
  t.match(result.refusals, [{ key: '/apisix/consumers/alice', kept: true, error: { message: /duplicate key of plugin key-auth/ } }])
})

t.test('an invalid value with no last good value is simply not loaded; references to it fail too', async (t) => {
  const u = entry('upstreams', 'u', '{"nodes":')
  const r = entry('routes', 'r', { id: 'r', uri: '/r', upstream_id: 'u' })
  const ok = entry('routes', 'ok', { id: 'ok', uri: '/ok', upstream: { nodes } })
  const result = applyChange(mirrorOf(u, r, ok), new Map(), prepare, revision)
  t.ok(result.swapped)
  t.same([...result.good.keys()], ['/apisix/routes/ok'])
  t.same(result.refusals.map((x) => [x.key, x.kept]).sort(), [['/apisix/routes/r', false], ['/apisix/upstreams/u', false]])
})

t.test('no change: no swap', async (t) => {
  const u = entry('upstreams', 'u', { id: 'u', nodes })
  const mirror = mirrorOf(u)
  const before = committed.length
  const result = applyChange(mirror, goodOf(mirror), prepare, revision)
  t.notOk(result.swapped)
  t.equal(committed.length, before)
})
