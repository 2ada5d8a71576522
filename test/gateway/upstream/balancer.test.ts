// The balancers alone (apisix-config.md §5.2): weighted smooth round robin over 10 000 picks,
// weight 0, priority groups, retries skipping tried nodes; chash stability and weights.
import t from 'tap'
import { ConsistentHash } from '../../../src/gateway/upstream/chash.js'
import { upstreamModel, type UpstreamNode } from '../../../src/gateway/upstream/model.js'
import { RoundRobin } from '../../../src/gateway/upstream/roundrobin.js'
import { Upstream } from '../../../src/gateway/upstream/upstream.js'

function counts(pickOne: () => UpstreamNode | undefined, n: number): Map<string, number> {
  const seen = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const node = pickOne()
    const k = node === undefined ? 'none' : node.authority
    seen.set(k, (seen.get(k) ?? 0) + 1)
  }
  return seen
}

t.test('model: map and array nodes, default ports, defaults', async (t) => {
  const m = upstreamModel({ nodes: { '127.0.0.1:1980': 1, 'example.com': 2, '[::1]:8080': 3, '[::2]': 1 } })
  t.same(
    m.nodes.map((n) => [n.host, n.port, n.weight, n.priority, n.authority]),
    [['127.0.0.1', 1980, 1, 0, '127.0.0.1:1980'], ['example.com', 80, 2, 0, 'example.com:80'], ['::1', 8080, 3, 0, '[::1]:8080'], ['::2', 80, 1, 0, '[::2]:80']],
  )
  t.equal(m.retries, 3, 'retries default to nodes - 1')
  t.same(m.timeoutMs, { connect: 60000, send: 60000, read: 60000 })
  t.equal(m.passHost, 'pass')
  t.equal(m.type, 'roundrobin')
  t.equal(m.tlsVerify, false)
  const https = upstreamModel({ scheme: 'https', nodes: [{ host: 'a', weight: 1, priority: 2 }], retries: 0, timeout: { connect: 0.5, send: 1, read: 2 } })
  t.equal(https.nodes[0]!.port, 443)
  t.equal(https.nodes[0]!.priority, 2)
  t.equal(https.nodes[0]!.origin, 'https://a:443')
  t.equal(https.retries, 0)
  t.same(https.timeoutMs, { connect: 500, send: 1000, read: 2000 })
})

t.test('roundrobin: 10 000 picks within 2 % of the weights, smoothly interleaved', async (t) => {
  const m = upstreamModel({ nodes: { 'a:1': 5, 'b:1': 3, 'c:1': 2, 'z:1': 0 } })
  const rr = new RoundRobin(m.nodes)
  const seen = counts(() => rr.pick(), 10_000)
  for (const [name, weight] of [['a:1', 5], ['b:1', 3], ['c:1', 2]] as const) {
    const share = (seen.get(name) ?? 0) / 10_000
    t.ok(Math.abs(share - weight / 10) <= 0.02 * (weight / 10), `${name} share ${share}`)
  }
  t.equal(seen.get('z:1'), undefined, 'weight 0 never picked')
  // nginx's smooth sequence for 5,3,2: the heaviest node never runs three times in a row.
  const rr2 = new RoundRobin(m.nodes)
  const seq = Array.from({ length: 10 }, () => rr2.pick()!.host).join('')
  t.equal(seq, 'abcaabacba', 'nginx smooth sequence for weights 5, 3, 2')
  t.notMatch(seq, /aaa/)
  t.equal([...seq].filter((c) => c === 'a').length, 5)
  t.equal([...seq].filter((c) => c === 'b').length, 3)
})

t.test('roundrobin: all weights 0 share alike; tried nodes skipped', async (t) => {
  const m = upstreamModel({ nodes: { 'a:1': 0, 'b:1': 0 } })
  const rr = new RoundRobin(m.nodes)
  const seen = counts(() => rr.pick(), 100)
  t.same([seen.get('a:1'), seen.get('b:1')], [50, 50])
  const tried = new Set([m.nodes[0]!])
  t.equal(rr.pick(tried)!.host, 'b')
  t.equal(rr.pick(new Set(m.nodes)), undefined)
})

t.test('priority: the highest group only, lower ones once it is all tried', async (t) => {
  const up = new Upstream({ nodes: [{ host: 'low', port: 1, weight: 100, priority: -1 }, { host: 'hi1', port: 1, weight: 1, priority: 1 }, { host: 'hi2', port: 1, weight: 1, priority: 1 }] })
  t.teardown(() => up.close())
  const seen = counts(() => up.pick(), 100)
  t.same([seen.get('hi1:1'), seen.get('hi2:1'), seen.get('low:1')], [50, 50, undefined])
  const tried = new Set<UpstreamNode>()
  const first = up.pick('', tried)!
  tried.add(first)
  const second = up.pick('', tried)!
  t.not(second.host, first.host)
  t.match(second.host, /^hi/)
  tried.add(second)
  t.equal(up.pick('', tried)!.host, 'low')
})

t.test('chash: the same key always maps to the same node; keys spread by weight', async (t) => {
  const m = upstreamModel({ type: 'chash', key: 'uri', nodes: { 'a:1': 1, 'b:1': 1, 'c:1': 2 } })
  const ring = new ConsistentHash(m.nodes)
  const first = new Map<string, string>()
  for (let i = 0; i < 2000; i++) first.set(`/k${i}`, ring.pick(`/k${i}`)!.authority)
  const again = new ConsistentHash([...m.nodes].reverse())
  let same = 0
  for (const [k, v] of first) if (again.pick(k)!.authority === v) same++
  t.equal(same, 2000, 'independent of node order and stable across rebuilds')
  const seen = new Map<string, number>()
  for (const v of first.values()) seen.set(v, (seen.get(v) ?? 0) + 1)
  t.ok(seen.get('c:1')! > seen.get('a:1')! && seen.get('c:1')! > seen.get('b:1')!, `weight 2 gets most: ${[...seen]}`)
  // Removing a node moves only the keys it owned.
  const without = new ConsistentHash(m.nodes.filter((n) => n.host !== 'a'))
  let moved = 0
  for (const [k, v] of first) if (v !== 'a:1' && without.pick(k)!.authority !== v) moved++
  t.equal(moved, 0, 'keys of the other nodes stay put')
  // A retry walks to another node.
  const node = ring.pick('/x')!
  const next = ring.pick('/x', new Set([node]))!
  t.not(next, node)
  t.equal(ring.pick('/x', new Set(m.nodes)), undefined)
})
