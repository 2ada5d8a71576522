// Every configuration error a user can meet, with its exact message (APISIX's wording where
// APISIX has one), its JSON pointer and the plugin it is about: the ext-plugin-* schema,
// `_meta`, unknown plugins, the route itself, in-process plugins' own schemas,
// validateRoute(), and createExtPlugin()'s options.
import t, { type Test } from 'tap'
import { compileCheck } from '../../src/config/validate.js'
import { extPluginSchema } from '../../src/config/schemas.js'
import { ConfigError, ErrorCode } from '../../src/errors.js'
import { createExtPlugin, type ExtPluginOptions } from '../../src/ext-plugin.js'
import { validateRoute } from '../../src/index.js'
import type { Plugin } from '../../src/engine/plugin.js'
import type { PreparedRunnerConf } from '../../src/engine/runner-plugins.js'
import { recordingLogger } from '../engine/support.js'

const EXT_PLUGINS = ['ext-plugin-pre-req', 'ext-plugin-post-req', 'ext-plugin-post-resp'] as const

interface Expected {
  message: string
  path: string
  plugin: string | undefined
  code?: string
}

/** The ConfigError `fn` throws, as plain data; a failure when it does not throw one. */
function configErrorOf(t: Test, fn: () => unknown): Expected | undefined {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof ConfigError)) {
      t.fail(`expected a ConfigError, got ${String(err)}`)
      return undefined
    }
    return { message: err.message, path: err.path, plugin: err.plugin, code: err.code }
  }
  t.fail('expected a ConfigError, nothing was thrown')
  return undefined
}

function expectError(t: Test, fn: () => unknown, expected: Expected, name: string): void {
  t.strictSame(configErrorOf(t, fn), { code: ErrorCode.INVALID_CONFIG, ...expected }, name)
}

// A route with this plugin configuration under `name`.
const routeWith = (name: string, conf: unknown) => ({ plugins: { [name]: conf as Record<string, unknown> } })

t.test("APISIX's own Admin API example: the message is exactly its error_msg", async (t) => {
  const apisix = '{"error_msg":"failed to check the configuration of plugin ext-plugin-pre-req err: property \\"conf\\" validation failed: failed to validate item 1: property \\"name\\" is required"}'
  const errorMsg = (JSON.parse(apisix) as { error_msg: string }).error_msg
  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  const error = configErrorOf(t, () => ext.route(routeWith('ext-plugin-pre-req', { conf: [{ value: 'x' }] })))
  t.equal(error?.message, errorMsg)
  t.equal(error?.path, '/plugins/ext-plugin-pre-req/conf/0/name')
  t.equal(error?.plugin, 'ext-plugin-pre-req')
})

t.test('ext-plugin-* configuration errors, for each of the three plugins', async (t) => {
  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  const cases: Array<{ name: string; conf: unknown; leaf: string; path: string }> = [
    { name: 'conf not an array', conf: { conf: 'x' }, leaf: 'property "conf" validation failed: wrong type: expected array, got string', path: '/conf' },
    { name: 'conf an object', conf: { conf: { name: 'a', value: 'b' } }, leaf: 'property "conf" validation failed: wrong type: expected array, got object', path: '/conf' },
    { name: 'empty conf (minItems 1)', conf: { conf: [] }, leaf: 'property "conf" validation failed: expect array to have at least 1 items', path: '/conf' },
    {
      name: 'item missing name',
      conf: { conf: [{ value: 'x' }] },
      leaf: 'property "conf" validation failed: failed to validate item 1: property "name" is required',
      path: '/conf/0/name',
    },
    {
      name: 'item missing value',
      conf: { conf: [{ name: 'a' }] },
      leaf: 'property "conf" validation failed: failed to validate item 1: property "value" is required',
      path: '/conf/0/value',
    },
    {
      name: 'third item missing value',
      conf: { conf: [{ name: 'a', value: '' }, { name: 'b', value: '{}' }, { name: 'c' }] },
      leaf: 'property "conf" validation failed: failed to validate item 3: property "value" is required',
      path: '/conf/2/value',
    },
    {
      name: 'item not an object',
      conf: { conf: ['say'] },
      leaf: 'property "conf" validation failed: failed to validate item 1: wrong type: expected object, got string',
      path: '/conf/0',
    },
    {
      name: 'name empty',
      conf: { conf: [{ name: '', value: 'x' }] },
      leaf: 'property "conf" validation failed: failed to validate item 1: property "name" validation failed: string too short, expected at least 1, got 0',
      path: '/conf/0/name',
    },
    {
      name: 'name of 129 characters',
      conf: { conf: [{ name: 'n'.repeat(129), value: 'x' }] },
      leaf: 'property "conf" validation failed: failed to validate item 1: property "name" validation failed: string too long, expected at most 128, got 129',
      path: '/conf/0/name',
    },
    {
      name: 'name not a string',
      conf: { conf: [{ name: 7, value: 'x' }] },
      leaf: 'property "conf" validation failed: failed to validate item 1: property "name" validation failed: wrong type: expected string, got integer',
      path: '/conf/0/name',
    },
    {
      name: 'value not a string (number)',
      conf: { conf: [{ name: 'a', value: 1 }] },
      leaf: 'property "conf" validation failed: failed to validate item 1: property "value" validation failed: wrong type: expected string, got integer',
      path: '/conf/0/value',
    },
    {
      name: 'value not a string (object: the conf must be serialised by the user)',
      conf: { conf: [{ name: 'a', value: { body: 'x' } }] },
      leaf: 'property "conf" validation failed: failed to validate item 1: property "value" validation failed: wrong type: expected string, got object',
      path: '/conf/0/value',
    },
    {
      name: 'allow_degradation not a boolean',
      conf: { allow_degradation: 'yes' },
      leaf: 'property "allow_degradation" validation failed: wrong type: expected boolean, got string',
      path: '/allow_degradation',
    },
    {
      name: 'allow_degradation 1',
      conf: { allow_degradation: 1 },
      leaf: 'property "allow_degradation" validation failed: wrong type: expected boolean, got integer',
      path: '/allow_degradation',
    },
    { name: 'the plugin config not an object', conf: 'x', leaf: 'wrong type: expected object, got string', path: '' },
    { name: 'the plugin config null', conf: null, leaf: 'wrong type: expected object, got null', path: '' },
    { name: 'the plugin config an array', conf: [], leaf: 'wrong type: expected object, got array', path: '' },
  ]
  for (const plugin of EXT_PLUGINS) {
    for (const c of cases) {
      expectError(
        t,
        () => ext.route(routeWith(plugin, c.conf)),
        { message: `failed to check the configuration of plugin ${plugin} err: ${c.leaf}`, path: `/plugins/${plugin}${c.path}`, plugin },
        `${plugin}: ${c.name}`,
      )
    }
  }
})

t.test('ext-plugin-* configurations that are valid', async (t) => {
  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  const valid: Array<[string, unknown]> = [
    ['name of 128 characters', { conf: [{ name: 'n'.repeat(128), value: '' }] }],
    ['name of 1 character, empty value', { conf: [{ name: 'n', value: '' }] }],
    ['no conf at all', {}],
    ['extra properties (APISIX tests use {"a":"b"})', { a: 'b' }],
    ['extra properties on a conf item', { conf: [{ name: 'a', value: 'b', extra: 1 }] }],
    ['allow_degradation true', { conf: [{ name: 'a', value: 'b' }], allow_degradation: true }],
    ['every _meta field', { _meta: { disable: false, priority: -1, filter: [['arg_x', '==', '1']], error_response: { message: 'no' } } }],
    ['_meta.error_response a string', { _meta: { error_response: 'no' } }],
    ['empty _meta.filter (always true)', { _meta: { filter: [] } }],
  ]
  for (const plugin of EXT_PLUGINS) {
    for (const [name, conf] of valid) {
      t.doesNotThrow(() => ext.route(routeWith(plugin, conf)), `${plugin}: ${name}`)
    }
  }
})

t.test('allow_degradation defaults to false, filled in by validation; the caller keeps its object', async (t) => {
  const check = compileCheck(extPluginSchema, 'prefix: ', 'ext-plugin-pre-req')
  const value: Record<string, unknown> = { conf: [{ name: 'a', value: 'b' }] }
  check(value)
  t.strictSame(value, { conf: [{ name: 'a', value: 'b' }], allow_degradation: false }, 'default filled in place')
  const explicit: Record<string, unknown> = { allow_degradation: true }
  check(explicit)
  t.strictSame(explicit, { allow_degradation: true }, 'an explicit value is kept')

  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  const config = { conf: [{ name: 'a', value: 'b' }] }
  const route = ext.route(routeWith('ext-plugin-pre-req', config))
  const prepared = route.pipeline.phases.rewrite[0]!.conf as PreparedRunnerConf
  t.equal(prepared.allowDegradation, false)
  t.strictSame(config, { conf: [{ name: 'a', value: 'b' }] }, "the caller's configuration is not modified")
  const degrading = ext.route(routeWith('ext-plugin-post-req', { allow_degradation: true }))
  t.equal((degrading.pipeline.phases.access[0]!.conf as PreparedRunnerConf).allowDegradation, true)
})

t.test('_meta errors', async (t) => {
  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  const P = 'ext-plugin-pre-req'
  const prefix = `failed to check the configuration of plugin ${P} err: `
  const cases: Array<{ name: string; meta: unknown; message: string; path: string; code?: string }> = [
    { name: '_meta not an object', meta: 'x', message: 'property "_meta" validation failed: wrong type: expected object, got string', path: '/_meta' },
    {
      name: 'unknown property pre_function (Lua only)',
      meta: { pre_function: 'return function() end' },
      message: 'property "_meta" validation failed: additional properties forbidden, found pre_function',
      path: '/_meta/pre_function',
    },
    {
      name: 'unknown property',
      meta: { nope: 1 },
      message: 'property "_meta" validation failed: additional properties forbidden, found nope',
      path: '/_meta/nope',
    },
    {
      name: 'priority not an integer',
      meta: { priority: 1.5 },
      message: 'property "_meta" validation failed: property "priority" validation failed: wrong type: expected integer, got number',
      path: '/_meta/priority',
    },
    {
      name: 'priority a string',
      meta: { priority: '10' },
      message: 'property "_meta" validation failed: property "priority" validation failed: wrong type: expected integer, got string',
      path: '/_meta/priority',
    },
    {
      name: 'disable not a boolean',
      meta: { disable: 1 },
      message: 'property "_meta" validation failed: property "disable" validation failed: wrong type: expected boolean, got integer',
      path: '/_meta/disable',
    },
    {
      name: 'disable a string',
      meta: { disable: 'true' },
      message: 'property "_meta" validation failed: property "disable" validation failed: wrong type: expected boolean, got string',
      path: '/_meta/disable',
    },
    {
      name: 'filter not an array',
      meta: { filter: { arg_x: '1' } },
      message: 'property "_meta" validation failed: property "filter" validation failed: wrong type: expected array, got object',
      path: '/_meta/filter',
    },
    {
      name: 'filter a string',
      meta: { filter: 'arg_x == 1' },
      message: 'property "_meta" validation failed: property "filter" validation failed: wrong type: expected array, got string',
      path: '/_meta/filter',
    },
    {
      name: 'error_response a number',
      meta: { error_response: 1 },
      message: 'property "_meta" validation failed: property "error_response" validation failed: wrong type: expected string, got integer',
      path: '/_meta/error_response',
    },
    {
      name: 'error_response a boolean',
      meta: { error_response: true },
      message: 'property "_meta" validation failed: property "error_response" validation failed: wrong type: expected string, got boolean',
      path: '/_meta/error_response',
    },
  ]
  for (const c of cases) {
    expectError(t, () => ext.route(routeWith(P, { _meta: c.meta })), { message: prefix + c.message, path: `/plugins/${P}${c.path}`, plugin: P }, c.name)
  }
})

t.test('_meta.filter that fails to compile: lua-resty-expr messages', async (t) => {
  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  const P = 'ext-plugin-post-req'
  const prefix = `failed to check the configuration of plugin ${P} err: failed to validate the 'vars' expression: `
  const cases: Array<{ filter: unknown[]; reason: string; at: string }> = [
    { filter: ['arg_x', '==', '1'], reason: 'rule should be wrapped inside brackets at /0', at: '/0' },
    { filter: [['arg_x', 'bad', '1']], reason: "invalid operator 'bad' at /0/1", at: '/0/1' },
    { filter: [['arg_x', '==', '1'], 'b'], reason: 'rule should be wrapped inside brackets at /1', at: '/1' },
    { filter: ['OR', ['arg_x', '==', '1']], reason: 'rule too short', at: '' },
    { filter: [['arg_x', 'x', '==', '1']], reason: "bad 'not' expression at /0/1", at: '/0/1' },
    { filter: [['remote_addr', 'ipmatch', '']], reason: 'invalid ip address at /0/2', at: '/0/2' },
    { filter: [['remote_addr', 'ipmatch', ['10.0.0.1', 'nope']]], reason: 'invalid ip address: nope at /0/2/1', at: '/0/2/1' },
  ]
  for (const c of cases) {
    t.strictSame(
      configErrorOf(t, () => ext.route(routeWith(P, { _meta: { filter: c.filter } }))),
      { message: prefix + c.reason, path: `/plugins/${P}/_meta/filter${c.at}`, plugin: P, code: ErrorCode.INVALID_FILTER },
      JSON.stringify(c.filter),
    )
  }
})

t.test('unknown plugin', async (t) => {
  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  // @ts-expect-error -- a typo, checked at run time here
  expectError(t, () => ext.route({ plugins: { 'ext-plugin-pre': {} } }), { message: 'unknown plugin [ext-plugin-pre]', path: '/plugins/ext-plugin-pre', plugin: 'ext-plugin-pre' }, 'a typo')
  expectError(
    t,
    // @ts-expect-error -- a plugin this ExtPlugin does not know
    () => ext.route({ plugins: { 'ext-plugin-pre-req': {}, 'proxy-rewrite': { uri: '/x' } } }),
    { message: 'unknown plugin [proxy-rewrite]', path: '/plugins/proxy-rewrite', plugin: 'proxy-rewrite' },
    'an APISIX Lua plugin this library does not have',
  )
})

t.test('route-level errors', async (t) => {
  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  const R = 'invalid route configuration: '
  const cases: Array<{ name: string; config: unknown; message: string; path: string }> = [
    { name: 'extra property', config: { plugins: {}, uri: '/x' }, message: 'additional properties forbidden, found uri', path: '/uri' },
    {
      name: 'id with a space',
      config: { id: 'a b', plugins: {} },
      message: 'property "id" validation failed: failed to match pattern "^[a-zA-Z0-9-_.]+$" with "a b"',
      path: '/id',
    },
    {
      name: 'id with a #, which would break the conf token key',
      config: { id: 'a#1', plugins: {} },
      message: 'property "id" validation failed: failed to match pattern "^[a-zA-Z0-9-_.]+$" with "a#1"',
      path: '/id',
    },
    { name: 'id empty', config: { id: '', plugins: {} }, message: 'property "id" validation failed: string too short, expected at least 1, got 0', path: '/id' },
    {
      name: 'id of 65 characters',
      config: { id: 'i'.repeat(65), plugins: {} },
      message: 'property "id" validation failed: string too long, expected at most 64, got 65',
      path: '/id',
    },
    { name: 'id 0', config: { id: 0, plugins: {} }, message: 'property "id" validation failed: expected 0 to be at least 1', path: '/id' },
    { name: 'id a boolean', config: { id: true, plugins: {} }, message: 'property "id" validation failed: wrong type: expected string or integer, got boolean', path: '/id' },
    { name: 'name not a string', config: { name: 5, plugins: {} }, message: 'property "name" validation failed: wrong type: expected string, got integer', path: '/name' },
    { name: 'missing plugins', config: { id: '1' }, message: 'property "plugins" is required', path: '/plugins' },
    { name: 'plugins an array', config: { plugins: [] }, message: 'property "plugins" validation failed: wrong type: expected object, got array', path: '/plugins' },
    { name: 'the route not an object', config: 'route', message: 'wrong type: expected object, got string', path: '' },
    { name: 'the route null', config: null, message: 'wrong type: expected object, got null', path: '' },
  ]
  for (const c of cases) {
    expectError(t, () => ext.route(c.config as never), { message: R + c.message, path: c.path, plugin: undefined }, c.name)
  }
  // Valid ids, string or integer.
  for (const id of ['1', 'a-b_c.d', 'i'.repeat(64), 1, 42]) {
    t.equal(ext.route({ id, plugins: {} }).id, String(id), `id ${JSON.stringify(id)}`)
  }
})

t.test('a disabled plugin with a bad configuration is accepted, with a warning, and left out', async (t) => {
  const log = recordingLogger()
  const ext = createExtPlugin({ logger: log.logger })
  t.teardown(() => ext.close())
  const route = ext.route({
    plugins: {
      // @ts-expect-error -- an invalid configuration, on purpose
      'ext-plugin-pre-req': { conf: 'not an array', _meta: { disable: true } },
      'ext-plugin-post-req': { conf: [{ name: 'a', value: 'b' }] },
    },
  })
  t.strictSame(log.at('warn'), ['failed to check the configuration of disabled plugin ext-plugin-pre-req, accepting it anyway'])
  t.strictSame(route.pipeline.phases.rewrite.map((i) => i.name), [], 'the disabled plugin is not in the pipeline')
  t.strictSame(route.pipeline.phases.access.map((i) => i.name), ['ext-plugin-post-req'])

  // A disabled plugin with a good configuration is left out silently.
  log.lines.length = 0
  ext.route({ plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'a', value: 'b' }], _meta: { disable: true } } } })
  t.strictSame(log.lines, [])

  // disable: false is an ordinary plugin: its errors are errors.
  expectError(
    t,
    () => ext.route({ plugins: { 'ext-plugin-pre-req': { conf: [], _meta: { disable: false } } } }),
    {
      message: 'failed to check the configuration of plugin ext-plugin-pre-req err: property "conf" validation failed: expect array to have at least 1 items',
      path: '/plugins/ext-plugin-pre-req/conf',
      plugin: 'ext-plugin-pre-req',
    },
    'disable: false',
  )
})

t.test("an in-process plugin's own schema, with _meta injected and defaults filled", async (t) => {
  const prepared: unknown[] = []
  const limit: Plugin<{ count: number; mode?: string }> = {
    name: 'limit',
    priority: 1000,
    schema: {
      type: 'object',
      properties: { count: { type: 'integer', minimum: 1 }, mode: { type: 'string', default: 'local' } },
      required: ['count'],
      additionalProperties: false,
    },
    prepare(conf) {
      prepared.push(conf)
      return conf
    },
    access: () => undefined,
  }
  const ext = createExtPlugin({ plugins: [limit as Plugin<unknown, unknown>] })
  t.teardown(() => ext.close())
  const prefix = 'failed to check the configuration of plugin limit err: '
  const cases: Array<{ name: string; conf: unknown; message: string; path: string }> = [
    { name: 'required property', conf: {}, message: 'property "count" is required', path: '/count' },
    { name: 'wrong type', conf: { count: 'x' }, message: 'property "count" validation failed: wrong type: expected integer, got string', path: '/count' },
    { name: 'additional property', conf: { count: 1, extra: 1 }, message: 'additional properties forbidden, found extra', path: '/extra' },
    {
      name: '_meta is checked for it too',
      conf: { count: 1, _meta: { disable: 'x' } },
      message: 'property "_meta" validation failed: property "disable" validation failed: wrong type: expected boolean, got string',
      path: '/_meta/disable',
    },
  ]
  for (const c of cases) {
    expectError(t, () => ext.route({ plugins: { limit: c.conf as Record<string, unknown> } }), { message: prefix + c.message, path: `/plugins/limit${c.path}`, plugin: 'limit' }, c.name)
  }
  // _meta passes its additionalProperties: false, and prepare sees the default filled in.
  ext.route({ plugins: { limit: { count: 2, _meta: { priority: 5 } } } })
  t.strictSame(prepared, [{ count: 2, _meta: { priority: 5 }, mode: 'local' }])

  // A plugin without a schema accepts any object, and still has _meta checked.
  const free = createExtPlugin({ plugins: [{ name: 'free', priority: 1 }] })
  t.teardown(() => free.close())
  t.doesNotThrow(() => free.route({ plugins: { free: { anything: [1, 2] } } }))
  expectError(
    t,
    // @ts-expect-error -- an invalid _meta, on purpose
    () => free.route({ plugins: { free: { _meta: { priority: 'high' } } } }),
    {
      message: 'failed to check the configuration of plugin free err: property "_meta" validation failed: property "priority" validation failed: wrong type: expected integer, got string',
      path: '/plugins/free/_meta/priority',
      plugin: 'free',
    },
    'schema-less plugin, bad _meta',
  )
})

t.test('validateRoute()', async (t) => {
  t.equal(validateRoute({ id: 'r1', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'auth', value: '{}' }] } } }), undefined, 'valid: returns nothing')
  expectError(
    t,
    () => validateRoute({ plugins: { 'ext-plugin-post-resp': { conf: [{ value: 'x' }] } } }),
    {
      message: 'failed to check the configuration of plugin ext-plugin-post-resp err: property "conf" validation failed: failed to validate item 1: property "name" is required',
      path: '/plugins/ext-plugin-post-resp/conf/0/name',
      plugin: 'ext-plugin-post-resp',
    },
    'the same error as route()',
  )
  expectError(t, () => validateRoute({ plugins: { mine: {} } }), { message: 'unknown plugin [mine]', path: '/plugins/mine', plugin: 'mine' }, 'in-process plugin not given')
  const mine: Plugin = { name: 'mine', priority: 1, schema: { type: 'object', properties: { on: { type: 'boolean' } } } }
  t.equal(validateRoute({ plugins: { mine: { on: true } } }, { plugins: [mine as Plugin<unknown, unknown>] }), undefined, 'in-process plugin given')
  expectError(
    t,
    () => validateRoute({ plugins: { mine: { on: 'yes' } } }, { plugins: [mine as Plugin<unknown, unknown>] }),
    {
      message: 'failed to check the configuration of plugin mine err: property "on" validation failed: wrong type: expected boolean, got string',
      path: '/plugins/mine/on',
      plugin: 'mine',
    },
    "in-process plugin's schema",
  )
  expectError(t, () => validateRoute({ plugins: {}, extra: 1 } as never), { message: 'invalid route configuration: additional properties forbidden, found extra', path: '/extra', plugin: undefined }, 'route level')
})

t.test('createExtPlugin option errors', async (t) => {
  const O = 'invalid createExtPlugin options: '
  // The options' errors carry INVALID_OPTIONS (errors.ts: "createExtPlugin() options are invalid").
  const cases: Array<{ name: string; options: unknown; message: string; path: string }> = [
    { name: 'unknown option', options: { timeout: 5 }, message: 'additional properties forbidden, found timeout', path: '/timeout' },
    { name: 'runner not an object', options: { runner: '/tmp/r.sock' }, message: 'property "runner" validation failed: wrong type: expected object, got string', path: '/runner' },
    { name: 'runner empty', options: { runner: {} }, message: 'property "runner" validation failed: property "cmd" is required', path: '/runner/cmd' },
    { name: 'runner cmd empty', options: { runner: { cmd: [] } }, message: 'property "runner" validation failed: property "cmd" validation failed: expect array to have at least 1 items', path: '/runner/cmd' },
    {
      name: 'runner cmd not strings',
      options: { runner: { cmd: ['go-runner', 1] } },
      message: 'property "runner" validation failed: property "cmd" validation failed: failed to validate item 2: wrong type: expected string, got integer',
      path: '/runner/cmd/1',
    },
    {
      name: 'runner with both cmd and socket',
      options: { runner: { cmd: ['x'], socket: '/tmp/r.sock' } },
      message: 'property "runner" validation failed: additional properties forbidden, found cmd',
      path: '/runner/cmd',
    },
    {
      name: 'runner stopTimeout negative',
      options: { runner: { cmd: ['x'], stopTimeout: -1 } },
      message: 'property "runner" validation failed: property "stopTimeout" validation failed: expected -1 to be at least 0',
      path: '/runner/stopTimeout',
    },
    {
      name: 'runner respawnDelay negative',
      options: { runner: { cmd: ['x'], respawnDelay: -1 } },
      message: 'property "runner" validation failed: property "respawnDelay" validation failed: expected -1 to be at least 0',
      path: '/runner/respawnDelay',
    },
    {
      name: 'runner startTimeout 0',
      options: { runner: { cmd: ['x'], startTimeout: 0 } },
      message: 'property "runner" validation failed: property "startTimeout" validation failed: expected 0 to be at least 1',
      path: '/runner/startTimeout',
    },
    {
      name: 'runner env value not a string',
      options: { runner: { cmd: ['x'], env: { A: 1 } } },
      message: 'property "runner" validation failed: property "env" validation failed: property "A" validation failed: wrong type: expected string, got integer',
      path: '/runner/env/A',
    },
    // The socket form: the error must be about `socket`, not about the `cmd` form.
    {
      name: 'runner socket empty',
      options: { runner: { socket: '' } },
      message: 'property "runner" validation failed: property "socket" validation failed: string too short, expected at least 1, got 0',
      path: '/runner/socket',
    },
    {
      name: 'runner socket not a string',
      options: { runner: { socket: 1 } },
      message: 'property "runner" validation failed: property "socket" validation failed: wrong type: expected string, got integer',
      path: '/runner/socket',
    },
    { name: 'callTimeout negative', options: { callTimeout: -1 }, message: 'property "callTimeout" validation failed: expected -1 to be at least 1', path: '/callTimeout' },
    { name: 'callTimeout 0', options: { callTimeout: 0 }, message: 'property "callTimeout" validation failed: expected 0 to be at least 1', path: '/callTimeout' },
    { name: 'callTimeout fractional', options: { callTimeout: 1.5 }, message: 'property "callTimeout" validation failed: wrong type: expected integer, got number', path: '/callTimeout' },
    { name: 'connectTimeout negative', options: { connectTimeout: -100 }, message: 'property "connectTimeout" validation failed: expected -100 to be at least 1', path: '/connectTimeout' },
    { name: 'idleTimeout negative', options: { idleTimeout: -5 }, message: 'property "idleTimeout" validation failed: expected -5 to be at least 1', path: '/idleTimeout' },
    { name: 'confExpireTime 0', options: { confExpireTime: 0 }, message: 'property "confExpireTime" validation failed: expected 0 to be at least 1', path: '/confExpireTime' },
    { name: 'maxIdleConnections negative', options: { maxIdleConnections: -1 }, message: 'property "maxIdleConnections" validation failed: expected -1 to be at least 0', path: '/maxIdleConnections' },
    { name: 'maxBodySize negative', options: { maxBodySize: -1 }, message: 'property "maxBodySize" validation failed: expected -1 to be at least 0', path: '/maxBodySize' },
    { name: 'callTimeout a string', options: { callTimeout: '100' }, message: 'property "callTimeout" validation failed: wrong type: expected integer, got string', path: '/callTimeout' },
    { name: 'plugins not an array', options: { plugins: {} }, message: 'property "plugins" validation failed: wrong type: expected array, got object', path: '/plugins' },
    { name: 'logger not an object', options: { logger: 'debug' }, message: 'property "logger" validation failed: wrong type: expected object, got string', path: '/logger' },
    { name: 'variables not a function', options: { variables: 3 }, message: 'property "variables" validation failed: expected a function', path: '/variables' },
  ]
  const codes = new Set<string | undefined>()
  for (const c of cases) {
    const error = configErrorOf(t, () => createExtPlugin(c.options as ExtPluginOptions))
    codes.add(error?.code)
    t.strictSame(error && { message: error.message, path: error.path, plugin: error.plugin }, { message: O + c.message, path: c.path, plugin: undefined }, c.name)
  }
  t.strictSame([...codes], [ErrorCode.INVALID_OPTIONS], 'every option error has the code INVALID_OPTIONS')
})

t.test('createExtPlugin: in-process plugin registration errors', async (t) => {
  const cases: Array<{ name: string; plugin: unknown; message: string; path: string; plugin_: string | undefined }> = [
    { name: 'no name', plugin: { name: '', priority: 1 }, message: 'a plugin needs a non-empty string name', path: '/name', plugin_: undefined },
    { name: 'priority not an integer', plugin: { name: 'p', priority: 1.5 }, message: 'plugin p: priority must be an integer', path: '/priority', plugin_: 'p' },
    { name: 'a built-in name', plugin: { name: 'ext-plugin-pre-req', priority: 1 }, message: 'plugin ext-plugin-pre-req is already registered', path: '/name', plugin_: 'ext-plugin-pre-req' },
    { name: 'a phase not a function', plugin: { name: 'p', priority: 1, access: 'x' }, message: 'plugin p: access must be a function', path: '/access', plugin_: 'p' },
  ]
  for (const c of cases) {
    t.strictSame(
      configErrorOf(t, () => createExtPlugin({ plugins: [c.plugin as Plugin<unknown, unknown>] })),
      { message: c.message, path: c.path, plugin: c.plugin_, code: ErrorCode.INVALID_OPTIONS },
      c.name,
    )
  }
  t.strictSame(
    configErrorOf(t, () => createExtPlugin({ plugins: [{ name: 'p', priority: 1 }, { name: 'p', priority: 2 }] })),
    { message: 'plugin p is already registered', path: '/name', plugin: 'p', code: ErrorCode.INVALID_OPTIONS },
    'twice the same name',
  )
})
