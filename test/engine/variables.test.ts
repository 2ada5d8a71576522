// Variables by APISIX's names (protocol.md §13) as exchange.variable() gives them, their
// wire form for ExtraInfo Var answers, and the path and query helpers underneath:
// percentDecode, normalizePath (nginx's $uri), escapePath (NGX_ESCAPE_URI), parseArgs,
// encodeArgs and rewriteArgs.
import t, { type Test } from 'tap'
import { argsToEntries, encodeArgs, parseArgs, rewriteArgs, type Arg } from '../../src/engine/args.js'
import { escapePath, normalizePath, percentDecode } from '../../src/engine/uri.js'
import { prepareVariables, variableToWire } from '../../src/engine/variables.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import { exchangeOf, type TestRequest } from '../helpers/exchange.js'
import { applyRewrite } from '../../src/engine/apply-actions.js'
import { runRequestPhases } from '../../src/engine/run.js'
import { recordingLogger } from './support.js'

type Row = [name: string, expected: unknown]

function table(t: Test, request: TestRequest, rows: Row[], label: string): void {
  const x = exchangeOf(request)
  for (const [name, expected] of rows) {
    let value: unknown
    try {
      value = x.variable(name)
    } catch (err) {
      value = `threw ${String(err)}`
    }
    t.strictSame(value, expected, `${label}: ${name}`)
  }
}

const euro = '\xe2\x82\xac' // "€" as the binary string of its UTF-8 bytes

t.test('uri: decoded and normalised as nginx does', async (t) => {
  const cases: Array<[string, string]> = [
    ['/hello', '/hello'],
    ['/', '/'],
    ['/a//b', '/a/b'],
    ['//', '/'],
    ['///a///b///', '/a/b/'],
    ['/a/./b', '/a/b'],
    ['/a/.', '/a/'],
    ['/a/./', '/a/'],
    ['/a/b/../c', '/a/c'],
    ['/a/..', '/'],
    ['/a/b/..//c', '/a/c'],
    ['/a/%2e%2e/b', '/b'],
    ['/a%2F..%2Fb', '/b'],
    ['/a%2Fb', '/a/b'],
    ['/d%2Fe%20f', '/d/e f'],
    ['/%41%62', '/Ab'],
    ['/caf%C3%A9', '/caf\xc3\xa9'],
    ['/%E2%82%AC', `/${euro}`],
    ['/a+b', '/a+b'],
    // A ".." above the root stays at the root (nginx would answer 400).
    ['/..', '/'],
    ['/../a', '/a'],
    ['/a/b/../../..', '/'],
    // A malformed escape is kept as it is (nginx would answer 400).
    ['/%zz', '/%zz'],
    ['/%4', '/%4'],
    ['/a%', '/a%'],
    ['/a/b/c/../../d/./e//f/..', '/a/d/e/'],
  ]
  for (const [raw, uri] of cases) {
    t.equal(normalizePath(raw), uri, `normalizePath(${raw})`)
    t.equal(exchangeOf({ url: `${raw}?q=1` }).variable('uri'), uri, `uri of ${raw}?q=1`)
  }
})

t.test('request-line variables', async (t) => {
  const url = '/a//b/./c/../d%2Fe%20f?xx=y&xx=z&&y=&&z&p=a+b%2B&e=%E2%82%AC'
  table(
    t,
    { method: 'PUT', url, headers: [['Host', 'Example.COM:8080']] },
    [
      ['uri', '/a/b/d/e f'],
      ['request_uri', url],
      ['request_method', 'PUT'],
      ['method', 'PUT'],
      ['scheme', 'http'],
      ['args', 'xx=y&xx=z&&y=&&z&p=a+b%2B&e=%E2%82%AC'],
      ['is_args', '?'],
      ['remote_addr', '127.0.0.1'],
      ['remote_port', '50000'],
      ['server_addr', '127.0.0.1'],
      ['server_port', '9080'],
    ],
    'with a query',
  )
  table(t, { url: '/x' }, [['args', undefined], ['is_args', ''], ['request_uri', '/x']], 'without a query')
  table(t, { url: '/x?' }, [['args', undefined], ['is_args', ''], ['request_uri', '/x?'], ['uri', '/x']], 'with an empty query')
  table(t, { init: { scheme: 'https' } }, [['scheme', 'https']], 'https')
  table(
    t,
    { remoteAddress: '::1', init: { remotePort: 1, serverAddress: 'fe80::1', serverPort: 443 } },
    [['remote_addr', '::1'], ['remote_port', '1'], ['server_addr', 'fe80::1'], ['server_port', '443']],
    'IPv6 peers',
  )
  table(
    t,
    { remoteAddress: '', init: { remotePort: 0, serverAddress: '', serverPort: 0 } },
    [['remote_addr', undefined], ['remote_port', undefined], ['server_addr', undefined], ['server_port', undefined]],
    'unknown peers',
  )
})

t.test('host: the Host header name part, lower-cased; the server address without one', async (t) => {
  const cases: Array<[Array<[string, string]>, string | undefined]> = [
    [[['Host', 'localhost']], 'localhost'],
    [[['Host', 'Example.COM:8080']], 'example.com'],
    [[['host', 'api.example.org']], 'api.example.org'],
    [[['Host', '[::1]:80']], '[::1]'],
    [[['Host', '[FE80::1]']], '[fe80::1]'],
    [[['Host', '10.0.0.1:9080']], '10.0.0.1'],
    [[['Host', '']], '127.0.0.1'],
    [[], '127.0.0.1'],
  ]
  for (const [headers, host] of cases) table(t, { headers }, [['host', host]], JSON.stringify(headers))
})

t.test('arg_*: decoded, first value, bare key true, empty value empty', async (t) => {
  table(
    t,
    { url: '/?xx=y&xx=z&&y=&&z&p=a+b%2B&e=%E2%82%AC&sp=%20&Case=1' },
    [
      ['arg_xx', 'y'],
      ['arg_y', ''],
      ['arg_z', true],
      ['arg_p', 'a b+'],
      ['arg_e', euro],
      ['arg_sp', ' '],
      ['arg_Case', '1'],
      ['arg_case', undefined],
      ['arg_nope', undefined],
    ],
    'query',
  )
  table(t, { url: '/?a%20b=1&c%3Dd=2' }, [['arg_a b', '1'], ['arg_c=d', '2']], 'encoded names')
})

t.test('http_*: case-insensitive, - or _, repeated lines joined', async (t) => {
  table(
    t,
    {
      headers: [
        ['Host', 'Example.COM:8080'],
        ['X-Foo', 'one'],
        ['x-foo', 'two'],
        ['X-Empty', ''],
        // APISIX turns nginx's underscores_in_headers on; nginx then matches `_` in a
        // header name as it matches `-` (ngx_http_variable_unknown_header).
        ['X_Under', 'underscore'],
        ['User-Agent', 'ua'],
        ['Cookie', 'a=1; b=2'],
        ['Cookie', 'c=3'],
        ['Content-Type', 'text/plain; charset=utf-8'],
        ['Content-Length', '12'],
      ],
    },
    [
      ['http_x_foo', 'one, two'],
      ['http_X-Foo', 'one, two'],
      ['http_X_FOO', 'one, two'],
      ['http_x_empty', ''],
      ['http_x_under', 'underscore'],
      ['http_user_agent', 'ua'],
      ['http_host', 'Example.COM:8080'],
      ['http_cookie', 'a=1; b=2; c=3'],
      ['http_nope', undefined],
      ['content_type', 'text/plain; charset=utf-8'],
      ['content_length', '12'],
    ],
    'headers',
  )
  table(t, { headers: [] }, [['content_type', undefined], ['http_host', undefined]], 'no headers')
})

t.test('cookie_*: from every Cookie line', async (t) => {
  table(
    t,
    { headers: [['Cookie', 'a=1; b=two words;c=3'], ['cookie', 'd=4; a=shadowed'], ['Cookie', 'flag; e=']] },
    [
      ['cookie_a', '1'],
      ['cookie_b', 'two words'],
      ['cookie_c', '3'],
      ['cookie_d', '4'],
      ['cookie_e', ''],
      ['cookie_flag', undefined],
      ['cookie_A', undefined],
      ['cookie_nope', undefined],
    ],
    'cookies',
  )
  table(t, { headers: [['Host', 'h']] }, [['cookie_a', undefined]], 'no Cookie header')
})

t.test('post_arg_*: form bodies only, after prepareVariables', async (t) => {
  const form = exchangeOf({
    method: 'POST',
    headers: [['Content-Type', 'application/x-www-form-urlencoded; charset=utf-8']],
    body: 'a=1&a=2&b=x+y%21&c&d=',
  })
  t.equal(form.variable('post_arg_a'), undefined, 'not before prepareVariables')
  await prepareVariables(form, ['post_arg_a'])
  t.strictSame(
    ['post_arg_a', 'post_arg_b', 'post_arg_c', 'post_arg_d', 'post_arg_e'].map((n) => form.variable(n)),
    ['1', 'x y!', true, '', undefined],
  )
  t.equal(form.body.consumed, true, 'the body was read (the application gets it replayed)')

  const upper = exchangeOf({ method: 'POST', headers: [['content-type', 'Application/X-WWW-Form-Urlencoded']], body: 'a=1' })
  await prepareVariables(upper, ['post_arg_a'])
  t.equal(upper.variable('post_arg_a'), '1', 'the media type is case-insensitive')

  for (const type of ['application/json', 'multipart/form-data; boundary=x', 'text/plain', 'application/x-www-form-urlencodedx']) {
    const x = exchangeOf({ method: 'POST', headers: [['Content-Type', type]], body: 'a=1' })
    await prepareVariables(x, ['post_arg_a'])
    t.equal(x.variable('post_arg_a'), undefined, type)
    t.equal(x.body.consumed, false, `${type}: the body is not read`)
  }
  const none = exchangeOf({ method: 'POST', headers: [], body: 'a=1' })
  await prepareVariables(none, ['post_arg_a'])
  t.equal(none.variable('post_arg_a'), undefined, 'no content type')

  const other = exchangeOf({ method: 'POST', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'a=1' })
  await prepareVariables(other, ['arg_a', 'http_x'])
  t.equal(other.body.consumed, false, 'names other than post_arg_* read nothing')
})

t.test('route_id and route_name after running a pipeline', async (t) => {
  const ext = createExtPlugin()
  t.teardown(() => ext.close())
  const { logger } = recordingLogger()
  const x = exchangeOf()
  t.equal(x.variable('route_id'), undefined, 'before')
  t.equal(x.variable('route_name'), undefined, 'before')
  await runRequestPhases(ext.route({ id: 'r-1', name: 'the route', plugins: {} }).pipeline, x, logger)
  t.equal(x.variable('route_id'), 'r-1')
  t.equal(x.variable('route_name'), 'the route')
  await runRequestPhases(ext.route({ id: 7, plugins: {} }).pipeline, x, logger)
  t.equal(x.variable('route_id'), '7', 'an integer id reads as a string')
  t.equal(x.variable('route_name'), undefined, 'no name')
})

t.test('upstream_uri and upstream_host after a Rewrite', async (t) => {
  const x = exchangeOf({ url: '/hello?c=foo', headers: [['Host', 'Example.com:8080']] })
  t.equal(x.variable('upstream_uri'), '', 'empty until something sets it')
  t.equal(x.variable('upstream_host'), 'Example.com:8080', 'the Host header until something sets it')
  applyRewrite(x, { type: 'rewrite', path: '/new path?', headers: [{ name: 'Host', value: 'up.example' }], args: [], respHeaders: [] })
  t.equal(x.upstreamUri, '/new%20path%3F', 'exchange.upstreamUri: the escaped path alone')
  // APISIX sets $upstream_uri to the escaped path plus `?` and the query when there is one
  // (protocol.md §5.3 step 6; post-req's path is "$upstream_uri up to the first ?", §4.2).
  t.equal(x.variable('upstream_uri'), '/new%20path%3F?c=foo', 'upstream_uri: escaped path + ? + query')
  t.equal(x.variable('upstream_host'), 'up.example')
  t.equal(x.variable('http_host'), 'up.example', 'the request header itself changed too')
  t.equal(x.variable('host'), 'up.example', '$host follows the Host header')
  t.equal(x.variable('uri'), '/hello', '$uri is the request path, not the upstream one')
  t.equal(x.variable('request_uri'), '/hello?c=foo', '$request_uri never changes')

  const noQuery = exchangeOf({ url: '/hello' })
  applyRewrite(noQuery, { type: 'rewrite', path: '/new', headers: [], args: [], respHeaders: [] })
  t.equal(noQuery.variable('upstream_uri'), '/new', 'no query: no ?')

  const none = exchangeOf({ headers: [] })
  t.equal(none.variable('upstream_host'), undefined, 'no Host header: absent')
})

t.test("the application's own variables", async (t) => {
  const asked: string[] = []
  const variables = (name: string): unknown => {
    asked.push(name)
    if (name === 'mine') return 42
    if (name === 'uri') return '/shadowed'
    if (name === 'graphql_root_fields') return ['a', 'b']
    if (name === 'nil') return null
    return undefined
  }
  const ext = createExtPlugin({ variables })
  t.teardown(() => ext.close())
  t.equal(ext.variables, variables, 'the option is kept for adapters to pass on')
  const x = exchangeOf({ url: '/real?a=1', init: { variables: ext.variables } })
  t.equal(x.variable('mine'), 42)
  t.equal(x.variable('uri'), '/shadowed', 'consulted before the built-in ones')
  t.strictSame(x.variable('graphql_root_fields'), ['a', 'b'])
  t.equal(x.variable('arg_a'), '1', 'undefined falls back to the built-in')
  t.equal(x.variable('nope'), undefined)
  t.equal(x.variable('nil'), null, 'null is a value (JSON null), not a fallback')
  t.strictSame(asked, ['mine', 'uri', 'graphql_root_fields', 'arg_a', 'nope', 'nil'])
})

t.test('unknown names are undefined', async (t) => {
  table(
    t,
    { url: '/?a=1', headers: [['Host', 'h'], ['X-A', '1']] },
    [
      ['nope', undefined],
      ['erver_addr', undefined],
      ['uri_param_id', undefined],
      ['service_id', undefined],
      ['consumer_name', undefined],
      ['resp_body', undefined],
      ['', undefined],
      ['arg_', undefined],
      ['http_', undefined],
      // Object.prototype's members are not variables (a plain-object lookup table would
      // find them: `constructor` would give the exchange itself, `__proto__` would throw).
      ['constructor', undefined],
      ['toString', undefined],
      ['hasOwnProperty', undefined],
      ['__proto__', undefined],
    ],
    'unknown',
  )
})

t.test('variableToWire: Lua tostring forms', async (t) => {
  const cases: Array<[unknown, string | undefined]> = [
    ['text', 'text'],
    ['', ''],
    [euro, euro],
    [true, 'true'],
    [false, 'false'],
    [0, '0'],
    [1, '1'],
    [-7, '-7'],
    [1.5, '1.5'],
    [0.1, '0.1'],
    [1 / 3, '0.33333333333333'],
    [1e14, '1e+14'],
    // checked against LuaJIT 2.1's tostring: ties round away from zero
    [123456789012345, '1.2345678901235e+14'],
    [12345678901234.5, '12345678901235'],
    [2 ** 53, '9.007199254741e+15'],
    [2.5e-7, '2.5e-07'],
    [1e20, '1e+20'],
    [1e-5, '1e-05'],
    [-0, '-0'],
    [Infinity, 'inf'],
    [NaN, 'nan'],
    [undefined, undefined],
    [null, undefined],
    [['a', 'b'], '["a","b"]'],
    [[], '[]'],
    [{ a: 1 }, 'table: 0x00000000'],
  ]
  for (const [value, wire] of cases) t.equal(variableToWire(value), wire, `${typeof value} ${JSON.stringify(value)}`)
  t.equal(variableToWire(exchangeOf({ url: '/?z' }).variable('arg_z')), 'true', 'a bare arg')
  t.equal(variableToWire(exchangeOf({ url: '/?x=' }).variable('arg_x')), '', 'an empty arg')
  t.equal(variableToWire(exchangeOf({ url: '/' }).variable('arg_x')), undefined, 'a missing arg')
})

t.test('percentDecode', async (t) => {
  const cases: Array<[string, boolean, string]> = [
    ['plain', false, 'plain'],
    ['a%20b', false, 'a b'],
    ['a+b', false, 'a+b'],
    ['a+b', true, 'a b'],
    ['a%2Bb', true, 'a+b'],
    ['%2b%2B', false, '++'],
    ['%E2%82%AC', false, euro],
    ['%e2%82%ac', false, euro],
    ['%00%FF', false, '\x00\xff'],
    ['%', false, '%'],
    ['%4', false, '%4'],
    ['%4g', false, '%4g'],
    ['%%41', false, '%A'],
    ['100%', true, '100%'],
  ]
  for (const [text, plus, decoded] of cases) t.equal(percentDecode(text, plus), decoded, `${text} (plus ${plus})`)
})

t.test('escapePath: NGX_ESCAPE_URI byte classes', async (t) => {
  const hex = (c: number) => '%' + c.toString(16).toUpperCase().padStart(2, '0')
  const kept = new Set([..."-._~:/@!$&'()*+,;=[]"].map((c) => c.charCodeAt(0)))
  for (let c = 0x30; c <= 0x39; c++) kept.add(c)
  for (let c = 0x41; c <= 0x5a; c++) kept.add(c)
  for (let c = 0x61; c <= 0x7a; c++) kept.add(c)
  const escaped = new Set<number>()
  for (let c = 0; c <= 0x1f; c++) escaped.add(c)
  for (const ch of ' "#%<>?\\^`{|}') escaped.add(ch.charCodeAt(0))
  for (let c = 0x7f; c <= 0xff; c++) escaped.add(c)
  t.equal(kept.size + escaped.size, 256, 'the two classes cover every byte')
  let wrong = 0
  for (let c = 0; c < 256; c++) {
    const ch = String.fromCharCode(c)
    const expected = escaped.has(c) ? hex(c) : ch
    if (escapePath(`/a${ch}b`) !== `/a${expected}b`) {
      wrong++
      t.fail(`byte 0x${c.toString(16)}: ${JSON.stringify(escapePath(`/a${ch}b`))}`)
    }
  }
  t.equal(wrong, 0, 'every byte in its class')
  const cases: Array<[string, string]> = [
    ['/p?a=2', '/p%3Fa=2'],
    ['/a%20b', '/a%2520b'],
    ['/new path', '/new%20path'],
    ['/caf\xc3\xa9', '/caf%C3%A9'],
    ['/#frag', '/%23frag'],
    ["/keep-._~:@!$&'()*+,;=[]", "/keep-._~:@!$&'()*+,;=[]"],
    ['', ''],
    ['/', '/'],
  ]
  for (const [path, upstream] of cases) t.equal(escapePath(path), upstream, JSON.stringify(path))
})

t.test('parseArgs', async (t) => {
  const cases: Array<[string, Arg[]]> = [
    // APISIX's own test
    ['xx=y&xx=z&&y=&&z', [{ name: 'xx', value: 'y' }, { name: 'xx', value: 'z' }, { name: 'y', value: '' }, { name: 'z', value: true }]],
    ['', []],
    ['&&&', []],
    ['a=1=2', [{ name: 'a', value: '1=2' }]],
    ['%3D=%26&a+b=c+d', [{ name: '=', value: '&' }, { name: 'a b', value: 'c d' }]],
    ['e=%E2%82%AC', [{ name: 'e', value: euro }]],
    ['=v&k=1', [{ name: 'k', value: '1' }]],
    ['bare&bare', [{ name: 'bare', value: true }, { name: 'bare', value: true }]],
  ]
  for (const [query, args] of cases) t.strictSame(parseArgs(query), args, JSON.stringify(query))
})

t.test('encodeArgs', async (t) => {
  const cases: Array<[Arg[], string]> = [
    [[], ''],
    [[{ name: 'a', value: 'foo' }, { name: 'a', value: 'bar' }], 'a=foo&a=bar'],
    [[{ name: 'z', value: true }], 'z'],
    [[{ name: 'e', value: '' }], 'e='],
    [[{ name: 'a b', value: 'c&d=é' }], 'a%20b=c%26d%3D%E9'],
    [[{ name: 'e', value: euro }], 'e=%E2%82%AC'],
    [[{ name: 'k', value: "-._~!*'()+/?" }], "k=-._~%21%2A%27%28%29%2B%2F%3F"],
  ]
  for (const [args, query] of cases) t.equal(encodeArgs(args), query, JSON.stringify(args))
  const query = 'xx=y&xx=z&y=&z&sp=a%20b&e=%E2%82%AC'
  t.equal(encodeArgs(parseArgs(query)), query, 'round trip')
})

t.test('rewriteArgs', async (t) => {
  // APISIX's own test: original c=foo&d=bar; entries a=foo, d (no value), c=bar, a=bar.
  const apisix = rewriteArgs(parseArgs('c=foo&d=bar'), [
    { name: 'a', value: 'foo' },
    { name: 'd', value: undefined },
    { name: 'c', value: 'bar' },
    { name: 'a', value: 'bar' },
  ])
  t.strictSame(apisix, [{ name: 'c', value: 'bar' }, { name: 'a', value: 'foo' }, { name: 'a', value: 'bar' }], 'a=foo,bar; c=bar; no d')
  t.equal(encodeArgs(apisix), 'c=bar&a=foo&a=bar')

  const cases: Array<{ name: string; query: string; entries: Array<{ name: string; value: string | undefined }>; result: string }> = [
    { name: 'replace a multi-valued key', query: 'm=0&m=1&k=1', entries: [{ name: 'm', value: 'x' }], result: 'm=x&k=1' },
    { name: 'the Go runner resends old values: first sets, rest append', query: 'm=0', entries: [{ name: 'm', value: '0' }, { name: 'm', value: '1' }, { name: 'm', value: '2' }], result: 'm=0&m=1&m=2' },
    { name: 'delete a missing key', query: 'a=1', entries: [{ name: 'nope', value: undefined }], result: 'a=1' },
    { name: 'delete then set', query: 'a=1', entries: [{ name: 'a', value: undefined }, { name: 'a', value: '2' }], result: 'a=2' },
    { name: 'set then delete', query: 'a=1', entries: [{ name: 'a', value: '2' }, { name: 'a', value: undefined }], result: '' },
    { name: 'set, delete, set: the second set replaces', query: '', entries: [{ name: 'a', value: '1' }, { name: 'a', value: undefined }, { name: 'a', value: '2' }], result: 'a=2' },
    { name: 'a bare key kept as it is', query: 'z&a=1', entries: [{ name: 'a', value: '2' }], result: 'z&a=2' },
    { name: 'an empty value', query: 'a=1', entries: [{ name: 'a', value: '' }], result: 'a=' },
    { name: 'values encoded', query: '', entries: [{ name: 'q', value: 'a b&c' }], result: 'q=a%20b%26c' },
  ]
  for (const c of cases) t.equal(encodeArgs(rewriteArgs(parseArgs(c.query), c.entries)), c.result, c.name)
})

t.test('argsToEntries: one entry per value, a bare key without value (what HTTPReqCall carries)', async (t) => {
  t.strictSame(argsToEntries(parseArgs('xx=y&xx=z&&y=&&z')), [
    { name: 'xx', value: 'y' },
    { name: 'xx', value: 'z' },
    { name: 'y', value: '' },
    { name: 'z' },
  ])
})
