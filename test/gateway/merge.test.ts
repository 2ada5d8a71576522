// Merging precedence (apisix-config.md §3): Consumer > Consumer Group > Route > Plugin Config
// > Service, for every pair of layers; disabled instances shadow; what else a route takes
// from its service; the consumer merge's conf keys; the phase orders of §4.
import t from 'tap'
import { createExtPlugin } from '../../src/index.js'
import { validateConfig } from '../../src/gateway/config/validate.js'
import { globalPlugins, mergeConsumer, mergeRoute, phaseOrder, UNMATCHED_STEPS, type PluginSource } from '../../src/gateway/merge.js'

t.setTimeout(30_000)

const ext = createExtPlugin({})
for (const name of ['x', 'y', 'key-auth']) ext.register({ name, priority: 1, rewrite: () => undefined })
const up = { nodes: { '127.0.0.1:1': 1 } }
const LAYERS: readonly PluginSource[] = ['consumer', 'consumer_group', 'route', 'plugin_config', 'service']

/** A config with plugin `x` on each of `layers`, its conf naming the layer. */
function configWith(layers: readonly PluginSource[], disabled?: PluginSource) {
  const x = (layer: PluginSource) => (layers.includes(layer) ? { x: { from: layer, ...(disabled === layer ? { _meta: { disable: true } } : {}) } } : {})
  return validateConfig(
    {
      services: [{ id: 's', upstream: up, plugins: x('service') }],
      plugin_configs: [{ id: 'pc', plugins: x('plugin_config') }],
      consumer_groups: [{ id: 'g', plugins: x('consumer_group') }],
      consumers: [{ username: 'alice', group_id: 'g', plugins: { 'key-auth': { key: 'k' }, ...x('consumer') } }],
      routes: [{ id: 'r', uri: '/', service_id: 's', plugin_config_id: 'pc', plugins: { 'key-auth': {}, ...x('route') } }],
    },
    { plugins: ext.plugins },
  )
}

function effective(layers: readonly PluginSource[], disabled?: PluginSource): { from: unknown; source: PluginSource | undefined } {
  const snapshot = configWith(layers, disabled)
  const merged = mergeConsumer(snapshot, mergeRoute(snapshot, 'r'), 'alice')
  return { from: (merged.pluginsConfig.x as { from?: unknown } | undefined)?.from, source: merged.pluginSources.x }
}

for (let i = 0; i < LAYERS.length; i++) {
  for (let j = i + 1; j < LAYERS.length; j++) {
    const [high, low] = [LAYERS[i]!, LAYERS[j]!]
    t.test(`${high} beats ${low}`, async (t) => {
      t.same(effective([high, low]), { from: high, source: high })
      t.same(effective([high, low], high), { from: undefined, source: undefined }, `a disabled ${high} instance shadows ${low}'s`)
      t.same(effective([high, low], low), { from: high, source: high })
    })
  }
}

t.test('without a consumer: route > plugin config > service, one copy each', async (t) => {
  const snapshot = configWith(['route', 'plugin_config', 'service'])
  const m = mergeRoute(snapshot, 'r')
  t.same(m.pluginsConfig.x, { from: 'route' })
  t.same(Object.keys(m.pluginsConfig).sort(), ['key-auth', 'x'])
  t.equal(m.confKeyPrefix, 'route#r')
  t.equal(mergeRoute(configWith(['plugin_config', 'service']), 'r').pluginSources.x, 'plugin_config')
  t.equal(mergeRoute(configWith(['service']), 'r').pluginSources.x, 'service')
  const shadow = mergeRoute(configWith(['route', 'service'], 'route'), 'r')
  t.notOk('x' in shadow.pluginsConfig, 'a disabled route instance shadows the service (§3.1 example 2)')
  t.ok(shadow.pluginNames.has('x'), 'but still occupies the name')
})

t.test('what a route takes from its service', async (t) => {
  const snapshot = validateConfig({
    upstreams: [{ id: 'u1', nodes: { '10.0.0.1:80': 1 }, timeout: { connect: 1, send: 2, read: 3 } }, { id: 'u2', nodes: { '10.0.0.2:80': 1 } }],
    services: [{ id: 's', name: 'svc', upstream_id: 'u1', enable_websocket: true }, { id: 'inline', upstream: { nodes: { '10.0.0.3:80': 1 } } }],
    routes: [
      { id: 'a', uri: '/a', service_id: 's' },
      { id: 'b', uri: '/b', service_id: 's', upstream_id: 'u2', enable_websocket: false, name: 'bee' },
      { id: 'c', uri: '/c', service_id: 's', upstream: { nodes: { '10.0.0.9:80': 1 } }, timeout: { connect: 4, send: 5, read: 6 } },
      { id: 'd', uri: '/d', service_id: 'inline' },
      { id: 'e', uri: '/e', upstream_id: 'u1', upstream: { nodes: { '10.0.0.9:80': 1 } } },
    ],
  })
  const m = (id: string) => mergeRoute(snapshot, id)
  t.same([m('a').upstreamId, m('a').name, m('a').enableWebsocket, m('a').timeout], ['u1', undefined, true, { connect: 1, send: 2, read: 3 }], "the service's upstream and websocket; not its name; the upstream's timeout")
  t.same([m('b').upstreamId, m('b').name, m('b').enableWebsocket], ['u2', 'bee', false], "the route's upstream_id, name and enable_websocket win")
  t.same([m('c').upstreamId, m('c').upstream!.nodes[0]!.host, m('c').timeout], [undefined, '10.0.0.9', { connect: 4, send: 5, read: 6 }], "an inline route upstream clears the service's upstream_id; the route's timeout wins")
  t.equal(m('d').upstream!.nodes[0]!.host, '10.0.0.3', "the service's inline upstream")
  t.equal(m('e').upstreamId, 'u1', 'upstream_id wins over an inline upstream')
})

t.test('the consumer merge: rewrite_in_consumer and conf keys', async (t) => {
  const snapshot = validateConfig(
    {
      consumer_groups: [{ id: 'g', plugins: { y: {} } }],
      consumers: [
        { username: 'alice', group_id: 'g', plugins: { 'key-auth': { key: 'k' }, x: {} } },
        { username: 'bob', plugins: { 'key-auth': { key: 'k2' } } },
      ],
      routes: [{ id: 'r', uri: '/', plugins: { 'key-auth': {}, x: { _meta: { disable: true } } }, upstream: up }],
    },
    { plugins: ext.plugins },
  )
  const route = mergeRoute(snapshot, 'r')
  const alice = mergeConsumer(snapshot, route, 'alice')
  t.same(alice.rewriteInConsumer, ['y'], "re-run only what the route lacked (even disabled, x was the route's) and is not auth")
  t.same([alice.confType, alice.confId], ['route&consumer&consumer_group', 'r&alice&g'])
  const bob = mergeConsumer(snapshot, route, 'bob')
  t.same([bob.confType, bob.confId, bob.rewriteInConsumer], ['route&consumer', 'r&bob', []])
  t.same(bob.pluginsConfig['key-auth'], { key: 'k2' }, "the consumer's auth conf replaces the route's, harmlessly")
  const stranger = mergeConsumer(snapshot, route, { username: 'zed', group_id: 'missing' })
  t.same([stranger.missingGroup, stranger.groupId], [true, 'missing'], 'an attached consumer naming a missing group (APISIX: 503)')
})

t.test('global rules: one set, each plugin with its rule', async (t) => {
  const snapshot = validateConfig({ global_rules: [{ id: 'a', plugins: { x: {}, 'key-auth': { _meta: { disable: true } } } }, { id: 'b', plugins: { y: {} } }] }, { plugins: ext.plugins })
  const g = globalPlugins(snapshot)
  t.same(g.ruleOf, { x: 'a', y: 'b' }, 'disabled instances left out')
  t.same(g.rules.map((r) => [r.id, r.confKeyPrefix, Object.keys(r.pluginsConfig)]), [['a', 'global_rule#a', ['x']], ['b', 'global_rule#b', ['y']]])
})

t.test('phase orders', async (t) => {
  const steps = (order: 'apisix-3.17' | 'legacy') => phaseOrder(order).map((s) => `${s.scope} ${s.phase}`)
  t.same(steps('apisix-3.17'), ['global rewrite', 'route rewrite', 'consumer rewrite', 'global access', 'route access', 'global response', 'route response'])
  t.same(steps('legacy'), ['global rewrite', 'global access', 'route rewrite', 'consumer rewrite', 'route access', 'global response', 'route response'])
  t.same(UNMATCHED_STEPS.map((s) => `${s.scope} ${s.phase}`), ['global rewrite', 'global access'])
})
