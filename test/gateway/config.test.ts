// Whole-config validation (apisix-config.md §1): every object kind with its defaults, the
// rules the schema cannot say, plugin checks, and reference errors naming the object and field.
import t from 'tap'
import { ConfigError } from '../../src/errors.js'
import { createExtPlugin } from '../../src/index.js'
import { validateConfig, type ValidateOptions } from '../../src/gateway/config/validate.js'
import { keyAuthPlugin } from '../../src/gateway/plugins/key-auth.js'

t.setTimeout(30_000)

const ext = createExtPlugin({})
ext.register(keyAuthPlugin({ snapshotOf: () => undefined }))
ext.register({ name: 'limit-count', priority: 1002, schema: { type: 'object', properties: { count: { type: 'integer', minimum: 1 } }, required: ['count'] }, access: () => undefined })
const options: ValidateOptions = { plugins: ext.plugins }
const up = { nodes: { '127.0.0.1:1980': 1 } }

t.test('defaults of every object kind', async (t) => {
  const s = validateConfig(
    {
      upstreams: [{ id: 1, nodes: { '10.0.0.1': 2, '10.0.0.2:8080': 1 }, keepalive_pool: {} }, { id: 'tls', scheme: 'https', nodes: [{ host: 'a.example', weight: 1 }] }],
      services: [{ id: 's', hosts: ['Shop.Example.COM'], upstream_id: 1, plugins: { 'limit-count': { count: 5 } } }],
      plugin_configs: [{ id: 'pc', plugins: {} }],
      consumer_groups: [{ id: 'g', plugins: {} }],
      consumers: [{ username: 'alice', group_id: 'g', plugins: { 'key-auth': { key: 'k' } } }, { id: 'alice/credentials/ci', plugins: { 'key-auth': { key: 'k2' } } }],
      global_rules: [{ id: 7, plugins: {} }],
      routes: [{ uri: '/a', host: 'Foo.COM', service_id: 's' }, { id: 'r', uris: ['/b', '/c'], remote_addr: '10.0.0.0/8', upstream: up }],
      plugin_metadata: [{ id: 'http-logger', log_format: {} }],
    },
    options,
  )
  const u = s.upstreams.get('1')!
  t.same(
    { type: u.type, hash_on: u.hash_on, scheme: u.scheme, pass_host: u.pass_host, id: u.id },
    { type: 'roundrobin', hash_on: 'vars', scheme: 'http', pass_host: 'pass', id: '1' },
    'upstream defaults; ids are strings',
  )
  t.same(u.nodes, [
    { host: '10.0.0.1', port: 80, weight: 2, priority: 0 },
    { host: '10.0.0.2', port: 8080, weight: 1, priority: 0 },
  ], 'map nodes as an array, port 80 filled in, priority 0')
  t.same(u.keepalive_pool, { size: 320, idle_timeout: 60, requests: 1000 }, 'keepalive_pool defaults inside the object')
  t.equal(s.upstreams.get('tls')!.nodes[0]!.port, 443, 'https fills 443')
  t.same(s.services.get('s')!.hosts, ['shop.example.com'], 'service hosts lower-cased')
  const [first, second] = s.routes
  t.same({ id: first!.id, priority: first!.priority, status: first!.status, uris: first!.uris, hosts: first!.hosts }, { id: 'arr_1', priority: 0, status: 1, uris: ['/a'], hosts: ['foo.com'] }, 'route defaults, arr_<n> id, host as hosts')
  t.same(second!.remote_addrs, ['10.0.0.0/8'])
  t.equal(second!.upstream!.type, 'roundrobin', 'inline upstream defaults')
  t.same(s.credentials, [{ id: 'ci', username: 'alice', plugins: { 'key-auth': { key: 'k2' } } }], 'credential of alice')
  t.equal(s.consumers.get('alice')!.group_id, 'g')
  t.equal(s.globalRules[0]!.id, '7')
  t.same(s.pluginMetadata.get('http-logger'), { log_format: {} })
})

t.test('a later duplicate id replaces the earlier one in its position', async (t) => {
  const s = validateConfig({ routes: [{ id: 'x', uri: '/1', upstream: up }, { id: 'y', uri: '/2', upstream: up }, { id: 'x', uri: '/3', upstream: up }] })
  t.same(s.routes.map((r) => `${r.id}${r.uris[0]}`), ['x/3', 'y/2'])
})

// [name, config, message pattern, path]
const errors: Array<[string, Record<string, unknown>, RegExp, string]> = [
  ['unknown field', { routes: [{ id: 'r', uri: '/', upstream: up, url: '/' }] }, /routes\[0\] \(id r\): additional properties forbidden, found url/, 'routes[0].url'],
  ['uri and uris', { routes: [{ id: 'r', uri: '/', uris: ['/'], upstream: up }] }, /exactly one of uri or uris/, 'routes[0].uri'],
  ['neither uri nor uris', { routes: [{ id: 'r', upstream: up }] }, /exactly one of uri or uris/, 'routes[0].uri'],
  ['host and hosts', { routes: [{ id: 'r', uri: '/', host: 'a', hosts: ['b'], upstream: up }] }, /only one of host or hosts is allowed/, 'routes[0].hosts'],
  ['remote_addr and remote_addrs', { routes: [{ id: 'r', uri: '/', remote_addr: '1.1.1.1', remote_addrs: ['1.1.1.1'], upstream: up }] }, /only one of remote_addr or remote_addrs/, 'routes[0].remote_addrs'],
  ['a bad remote address', { routes: [{ id: 'r', uri: '/', remote_addrs: ['10.0.0.0/33'], upstream: up }] }, /routes\[0\] \(id r\)/, 'routes[0].remote_addrs[0]'],
  ['a route with nothing to do', { routes: [{ id: 'r', uri: '/' }] }, /one of plugins, upstream, upstream_id or service_id is required/, 'routes[0]'],
  ['a bad method', { routes: [{ id: 'r', uri: '/', methods: ['FETCH'], upstream: up }] }, /routes\[0\]/, 'routes[0].methods[0]'],
  ['a bad vars expression', { routes: [{ id: 'r', uri: '/', vars: [['arg_x', 'nope', 1]], upstream: up }] }, /failed to validate the 'vars' expression/, 'routes[0].vars[0][1]'],
  ['filter_func (Lua)', { routes: [{ id: 'r', uri: '/', filter_func: 'function(vars) return true end', upstream: up }] }, /filter_func \(Lua\) is not supported/, 'routes[0].filter_func'],
  ['script (Lua)', { services: [{ id: 's', script: 'local x = 1 return x' }] }, /script \(Lua\) is not supported/, 'services[0].script'],
  ['a bad id', { routes: [{ id: 'a b', uri: '/', upstream: up }] }, /routes\[0\]/, 'routes[0].id'],
  ['timeout needs all three', { routes: [{ id: 'r', uri: '/', timeout: { connect: 1 }, upstream: up }] }, /routes\[0\]/, 'routes[0].timeout.send'],
  ['chash without key', { upstreams: [{ id: 'u', type: 'chash', nodes: { 'a:1': 1 } }] }, /upstreams\[0\] \(id u\): missing key/, 'upstreams[0].key'],
  ['chash with a bad vars key', { upstreams: [{ id: 'u', type: 'chash', key: 'nope', nodes: { 'a:1': 1 } }] }, /invalid chash key nope/, 'upstreams[0].key'],
  ['rewrite without upstream_host', { upstreams: [{ id: 'u', pass_host: 'rewrite', nodes: { 'a:1': 1 } }] }, /`upstream_host` can't be empty when `pass_host` is `rewrite`/, 'upstreams[0].upstream_host'],
  ['IPv6 without brackets', { upstreams: [{ id: 'u', nodes: { '::1:80': 1 } }] }, /IPv6 address must be enclosed with '\[' and '\]'/, 'upstreams[0].nodes["::1:80"]'],
  ['a port out of range', { upstreams: [{ id: 'u', nodes: { 'a:70000': 1 } }] }, /invalid port 70000/, 'upstreams[0].nodes["a:70000"]'],
  ['least_conn', { upstreams: [{ id: 'u', type: 'least_conn', nodes: { 'a:1': 1 } }] }, /balancer type least_conn is not supported/, 'upstreams[0].type'],
  ['upstream mTLS', { upstreams: [{ id: 'u', tls: { client_cert: 'c', client_key: 'k' }, nodes: { 'a:1': 1 } }] }, /upstream mTLS .* is not supported/, 'upstreams[0].tls'],
  ['service discovery', { upstreams: [{ id: 'u', service_name: 'x', discovery_type: 'dns' }] }, /service discovery is not supported/, 'upstreams[0].discovery_type'],
  ['no nodes', { upstreams: [{ id: 'u' }] }, /property "nodes" is required/, 'upstreams[0].nodes'],
  ['an upstream without id', { upstreams: [{ nodes: { 'a:1': 1 } }] }, /property "id" is required/, 'upstreams[0].id'],
  ['a service with uri', { services: [{ id: 's', uri: '/' }] }, /services\[0\] \(id s\): additional properties forbidden, found uri/, 'services[0].uri'],
  ['plugin_config without plugins', { plugin_configs: [{ id: 'p' }] }, /plugin_configs\[0\]/, 'plugin_configs[0].plugins'],
  ['consumer without username', { consumers: [{ plugins: {} }] }, /consumers\[0\]/, 'consumers[0].username'],
  ['a bad username', { consumers: [{ username: 'a b' }] }, /consumers\[0\]/, 'consumers[0].username'],
  ['a credential with two plugins', { consumers: [{ username: 'a' }, { id: 'a/credentials/c', plugins: { 'key-auth': { key: 'x' }, 'limit-count': { count: 1 } } }] }, /consumers\[1\]/, 'consumers[1].plugins'],
  ['consumer_group without plugins', { consumer_groups: [{ id: 'g' }] }, /consumer_groups\[0\]/, 'consumer_groups[0].plugins'],
  ['a global rule with a name', { global_rules: [{ id: 'g', name: 'x', plugins: {} }] }, /additional properties forbidden, found name/, 'global_rules[0].name'],
  // references
  ['an unknown upstream_id', { routes: [{ id: 'r', uri: '/', upstream_id: 9 }] }, /routes\[0\] \(id r\): unknown upstream_id "9": failed to fetch upstream info by upstream id \[9\]/, 'routes[0].upstream_id'],
  ['an unknown service_id', { routes: [{ id: 'r', uri: '/', service_id: 's' }] }, /routes\[0\] \(id r\): unknown service_id "s"/, 'routes[0].service_id'],
  ['an unknown plugin_config_id', { routes: [{ id: 'r', uri: '/', plugin_config_id: 'p', upstream: up }] }, /unknown plugin_config_id "p": failed to fetch plugin config info/, 'routes[0].plugin_config_id'],
  ["a service's unknown upstream_id", { services: [{ id: 's', upstream_id: 'u' }] }, /services\[0\] \(id s\): unknown upstream_id "u"/, 'services[0].upstream_id'],
  ['an unknown group_id', { consumers: [{ username: 'a', group_id: 'g' }] }, /consumers\[0\] \(id a\): unknown group_id "g": failed to fetch consumer group info/, 'consumers[0].group_id'],
  ['a credential without its consumer', { consumers: [{ id: 'bob/credentials/c', plugins: { 'key-auth': { key: 'x' } } }] }, /no consumer bob/, 'consumers[0].id'],
  // plugins
  ['an unknown plugin', { routes: [{ id: 'r', uri: '/', plugins: { 'limit-req': {} }, upstream: up }] }, /unknown plugin \[limit-req\]/, 'routes[0].plugins.limit-req'],
  ['unknown plugins, listed', { services: [{ id: 's', plugins: { a: {}, b: {} } }] }, /unknown plugins \[a\], \[b\]/, 'services[0].plugins'],
  ['a plugin conf failing its schema', { routes: [{ id: 'r', uri: '/', plugins: { 'limit-count': { count: 0 } }, upstream: up }] }, /failed to check the configuration of plugin limit-count err: /, 'routes[0].plugins["limit-count"].count'],
  ['an ext-plugin conf failing its schema', { routes: [{ id: 'r', uri: '/', plugins: { 'ext-plugin-pre-req': { conf: 'x' } }, upstream: up }] }, /failed to check the configuration of plugin ext-plugin-pre-req/, 'routes[0].plugins["ext-plugin-pre-req"].conf'],
  ['a consumer-side key-auth without key', { consumers: [{ username: 'a', plugins: { 'key-auth': {} } }] }, /failed to check the configuration of plugin key-auth/, 'consumers[0].plugins["key-auth"].key'],
  ['one plugin in two global rules', { global_rules: [{ id: 'a', plugins: { 'limit-count': { count: 1 } } }, { id: 'b', plugins: { 'limit-count': { count: 2 } } }] }, /plugin 'limit-count' already exists in global rule with id 'a'/, 'global_rules[1].plugins.limit-count'],
  ['a duplicate key-auth key', { consumers: [{ username: 'a', plugins: { 'key-auth': { key: 'k' } } }, { username: 'b', plugins: { 'key-auth': { key: 'k' } } }] }, /duplicate key of plugin key-auth found with consumer: a/, 'consumers[1].plugins["key-auth"].key'],
  // sections
  ['ssls are not served', { ssls: [{ id: 1 }] }, /ssls are not supported/, 'ssls'],
  ['an unknown section', { route: [] }, /unknown section route/, 'route'],
  ['a section that is not a list', { routes: {} }, /routes must be an array/, 'routes'],
]
for (const [name, config, message, path] of errors) {
  t.test(name, async (t) => {
    try {
      validateConfig(config, options)
      t.fail('accepted')
    } catch (err) {
      t.ok(err instanceof ConfigError, 'a ConfigError')
      t.match((err as Error).message, message)
      t.equal((err as ConfigError).path, path, 'the field')
    }
  })
}

t.test('accepted with a warning, or skipped', async (t) => {
  const disabled = validateConfig({ routes: [{ id: 'r', uri: '/', plugins: { 'limit-req': { _meta: { disable: true } } }, upstream: up }] }, options)
  t.ok(disabled.routes[0]!.plugins!['limit-req'], 'a disabled unknown plugin is kept (it shadows lower layers)')
  const badDisabled = validateConfig({ routes: [{ id: 'r', uri: '/', plugins: { 'limit-count': { count: 0, _meta: { disable: true } } }, upstream: up }] }, options)
  t.match(badDisabled.warnings.join('\n'), /accepted: the plugin is disabled/, 'a disabled plugin failing its schema is accepted with a warning')
  const ignored = validateConfig({ routes: [{ id: 'r', uri: '/', plugins: { 'limit-req': {} }, upstream: up }] }, { ...options, unknownPlugins: 'ignore' })
  t.same(ignored.routes[0]!.plugins, {}, "unknownPlugins: 'ignore' leaves it out")
  t.match(ignored.warnings.join('\n'), /unknown plugin \[limit-req\] ignored/)
  const listed = validateConfig({ plugins: [{ name: 'key-auth' }], ssls: [] }, options)
  t.match(listed.warnings.join('\n'), /top-level `plugins` list is ignored/, 'the enabled-plugin list is ignored; empty unsupported sections pass')
  const checked = validateConfig({ upstreams: [{ id: 'u', nodes: { 'a:1': 1 }, checks: { active: { http_path: '/' } } }], routes: [{ id: 'w', uri: '/', enable_websocket: true, upstream_id: 'u' }] }, options)
  t.match(checked.warnings.join('\n'), /health checks are not run/, 'checks accepted, not run')
  t.match(checked.warnings.join('\n'), /enable_websocket is not supported/)
  const empty = validateConfig({}, options)
  t.equal(empty.routes.length, 0)
})
