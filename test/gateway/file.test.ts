// The standalone file formats (apisix-config.md §7): apisix.yaml and its #END marker,
// ${{VAR}} / ${{VAR:=default}} substitution, apisix.json, and a6 `config sync` files (§7.4).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../../src/errors.js'
import { loadConfig, parseConfigObject, parseConfigText } from '../../src/gateway/source/file.js'

t.setTimeout(30_000)

const dir = mkdtempSync(join(tmpdir(), 'gw-file-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const route = `routes:
  - id: r
    uri: /a
    upstream:
      nodes:
        "127.0.0.1:1980": 1
`

t.test('YAML needs its #END marker in the last bytes', async (t) => {
  t.equal(parseConfigText(`${route}#END\n`, 'apisix.yaml').routes.length, 1)
  t.equal(parseConfigText(`${route}#END   \n\n`, 'apisix.yaml').routes.length, 1, 'trailing whitespace allowed')
  t.throws(() => parseConfigText(route, 'apisix.yaml'), /missing valid end flag in file apisix.yaml/)
  t.throws(() => parseConfigText(`${route}#END\n# more\n`, 'apisix.yaml'), /missing valid end flag/, 'the marker must be last')
  // A half-written file: whatever YAML it parses to, no marker, refused.
  t.throws(() => parseConfigText(`${route}#END\n`.slice(0, 40), 'apisix.yaml'), ConfigError)
})

t.test('YAML: variables in the raw text, quoting decides the type', async (t) => {
  const env = { PORT: '1990', NAME: 'shop' }
  const object = parseConfigObject(
    `upstreams:
  - id: \${{NAME}}
    nodes:
      "127.0.0.1:\${{PORT}}": 1
    retries: \${{RETRIES:=2}}
    desc: "\${{ DESC := no description }}"
    \${{KEY:=name}}: named
#END
`,
    'apisix.yaml',
    env,
  )
  const up = (object.upstreams as Array<Record<string, unknown>>)[0]!
  t.same(up, { id: 'shop', nodes: { '127.0.0.1:1990': 1 }, retries: 2, desc: 'no description', name: 'named' }, 'defaults used; an unquoted number stays a number; keys substituted too')
  t.throws(() => parseConfigObject('routes: ${{NOPE}}\n#END\n', 'apisix.yaml', {}), /can't find environment variable NOPE/)
  t.equal(parseConfigObject('x: "${{E:=}}"\n#END\n', 'a.yaml', {}).x, '', 'an empty default')
})

t.test('JSON: no marker, variables after parsing', async (t) => {
  const env = { PORT: '1990', ON: 'true', ID: '007' }
  const object = parseConfigObject(
    '{"upstreams":[{"id":"${{ID}}","retries":"${{PORT}}","x":"${{ON}}","y":"p${{PORT}}","z":"${{Q:=false}}"}]}',
    'apisix.json',
    env,
  )
  t.same((object.upstreams as unknown[])[0], { id: 7, retries: 1990, x: true, y: 'p1990', z: false }, 'a whole-string variable becomes a number or boolean')
  t.equal(parseConfigText('{"routes":[{"id":"r","uri":"/","upstream":{"nodes":{"127.0.0.1:1":1}}}]}', 'apisix.json').routes.length, 1)
  t.equal(parseConfigText('{"routes":[]}', 'conf.txt').routes.length, 0, 'JSON recognised by its first byte')
  t.throws(() => parseConfigText('{"routes": [', 'apisix.json'), /apisix.json: failed to parse the content of file/)
})

t.test('a6 config sync files', async (t) => {
  const a6 = `version: "1"
routes:
  - id: r1
    uri: /api/*
    upstream_id: u1
upstreams:
  - id: u1
    type: roundrobin
    nodes:
      "127.0.0.1:1980": 1
consumers:
  - username: alice
plugin_metadata:
  - plugin_name: http-logger
    log_format: {host: "$host"}
`
  // a6 writes no #END (it appends one only when converting to a standalone file)
  const s = parseConfigText(a6, 'a6.yaml')
  t.equal(s.routes[0]!.upstream_id, 'u1')
  t.ok(s.consumers.has('alice'))
  t.same(s.pluginMetadata.get('http-logger'), { log_format: { host: '$host' } }, 'plugin_name becomes the id')
  t.equal(parseConfigText(`${a6}#END\n`, 'a6.yaml').routes.length, 1, 'an #END is harmless')
  t.equal(parseConfigText(JSON.stringify({ version: '1', routes: [] }), 'a6.json').routes.length, 0, 'JSON form')
  t.throws(() => parseConfigText('version: "2"\nroutes: []\n', 'a6.yaml'), /version must be "1"/)
  t.throws(() => parseConfigText('version: 1\n', 'a6.yaml'), /version must be "1"/, 'a number is not the string "1"')
  t.throws(() => parseConfigText('version: "1"\nssl: [{id: 1}]\n', 'a6.yaml'), /ssls are not supported/, 'ssl becomes ssls')
  t.throws(() => parseConfigText('version: "1"\nroutes: [{id: r, uri: /, upstream_id: nope}]\n', 'a6.yaml'), /a6.yaml: routes\[0\] \(id r\): unknown upstream_id "nope"/, 'errors name the file, object and field')
})

t.test('loadConfig reads a path or takes an object', async (t) => {
  const file = join(dir, 'apisix.yaml')
  writeFileSync(file, `${route}#END\n`)
  t.equal((await loadConfig(file)).routes[0]!.id, 'r')
  t.equal((await loadConfig({ routes: [] })).routes.length, 0)
  await t.rejects(loadConfig(join(dir, 'missing.yaml')), /missing.yaml: ENOENT/)
  writeFileSync(file, `${route.replace('/a', '')}#END\n`)
  await t.rejects(loadConfig(file), new RegExp(`${file}: routes\\[0\\]`))
})
