// Every operator with every coercion case, through the public API. `undefined` as the
// variable value means the variable is missing (Lua nil); `null` is a JSON null value.
import t, { type Test } from 'tap'
import { compileFilter } from '../../src/expr/index.js'

type Case = [op: string, r: unknown, l: unknown, expected: boolean]

const run = (t: Test, cases: readonly Case[]): void => {
  for (const [op, r, l, expected] of cases) {
    const filter = compileFilter([['v', op, r]])
    const label = `${JSON.stringify(l) ?? 'nil'} ${op} ${JSON.stringify(r) ?? 'nil'}`
    t.equal(filter.evaluate((name) => (name === 'v' ? l : undefined)), expected, label)
    // The same through a plain object, and negated.
    t.equal(filter.evaluate(l === undefined ? {} : { v: l }), expected, `${label} (object)`)
    t.equal(compileFilter([['v', '!', op, r]]).evaluate({ v: l }), !expected, `${label} (negated)`)
  }
}

t.test('== coerces l with tonumber only when r is a number', async (t) => {
  run(t, [
    ['==', 10, '10', true],
    ['==', 10, 10, true],
    ['==', 10, '10.0', true],
    ['==', 10, ' 10 ', true],
    ['==', 10, '0xa', true],
    ['==', 10, '0XA', true],
    ['==', 10, '1e1', true],
    ['==', 10, '0b1010', true],
    ['==', 10, '11', false],
    ['==', 10, '10abc', false],
    ['==', 10, 'ten', false],
    ['==', 10, '', false],
    ['==', 10, undefined, false],
    ['==', 10, null, false],
    ['==', 10, true, false],
    ['==', 10, [10], false],
    ['==', 0, '-0', true],
    ['==', 0, 'nan', false],
    ['==', 1.5, '1.50', true],
    // a string r is compared raw: no number conversion, case-sensitive
    ['==', '10', '10', true],
    ['==', '10', 10, false],
    ['==', '10', '10.0', false],
    ['==', 'Abc', 'Abc', true],
    ['==', 'Abc', 'abc', false],
    ['==', '', '', true],
    ['==', '', undefined, false],
    // booleans
    ['==', true, true, true],
    ['==', true, 'true', false],
    ['==', false, false, true],
    ['==', false, undefined, false],
    // JSON null on the right is nil: true only for a missing variable
    ['==', null, undefined, true],
    ['==', null, '', false],
    ['==', null, null, false],
    // a table equals only itself
    ['==', [1], [1], false],
    ['==', {}, {}, false],
    // non-ASCII text in the rule is its UTF-8 bytes, as received on the wire
    ['==', 'é', '\xc3\xa9', true],
    ['==', 'é', 'é', false],
  ])
})

t.test('~= is the exact negation of ==, incl. true for unconvertible l', async (t) => {
  run(t, [
    ['~=', 10, '10', false],
    ['~=', 10, '0x0a', false],
    ['~=', 10, '11', true],
    ['~=', 10, 'abc', true],
    ['~=', 10, undefined, true],
    ['~=', 10, true, true],
    ['~=', 'x', 'x', false],
    ['~=', 'x', 'X', true],
    ['~=', 'x', undefined, true],
    ['~=', '1', 1, true],
    ['~=', null, undefined, false],
    ['~=', null, 'a', true],
    ['~=', true, true, false],
  ])
})

t.test('> >= < <= convert both sides with tonumber; failure is false', async (t) => {
  run(t, [
    ['>', 10, '11', true],
    ['>', 10, '10', false],
    ['>', 10, '9', false],
    ['>', 10, 11, true],
    ['>', 10, '0x10', true],
    ['>', 10, '1e2', true],
    ['>', 10, ' 11\n', true],
    ['>', 10, 'inf', true],
    ['>', 10, 'nan', false],
    ['>', 10, 'abc', false],
    ['>', 10, '', false],
    ['>', 10, undefined, false],
    ['>', 10, true, false],
    ['>', 10, null, false],
    ['>', 10, [11], false],
    // r as text is converted too
    ['>', '10', '11', true],
    ['>', ' 0x0A ', 11, true],
    ['>', '1e1', '10', false],
    ['>', 'abc', 100, false],
    ['>', null, 100, false],
    ['>', true, 100, false],
    ['>=', 10, '10', true],
    ['>=', 10, '9.99', false],
    ['>=', 10, '-inf', false],
    ['>=', '-5', '-5', true],
    ['<', 10, '9', true],
    ['<', 10, '10', false],
    ['<', 10, '-0x10', true],
    ['<', 10, 'x', false],
    ['<', 10, undefined, false],
    ['<=', 10, '10', true],
    ['<=', 10, '10.000001', false],
    ['<=', 0, '-0', true],
    ['<=', 10, 'nan', false],
  ])
})

t.test('~~ and ~* search with PCRE; non-strings go through tostring', async (t) => {
  run(t, [
    ['~~', '^/api/', '/api/users', true],
    ['~~', '^/api/', '/v1/api/', false],
    ['~~', 'users', '/api/users', true],
    ['~~', 'ABC', 'xabcx', false],
    ['~*', 'ABC', 'xabcx', true],
    ['~*', '^[a-z]+$', 'MiXeD', true],
    ['~~', '\\d+$', 'id-42', true],
    ['~~', '.', '', false],
    ['~~', '', '', true],
    ['~~', '', undefined, false],
    ['~~', 'x', undefined, false],
    // false is like nil; true is the text "true"
    ['~~', 'false', false, false],
    ['~~', '^true$', true, true],
    // numbers as %.14g
    ['~~', '^12$', 12, true],
    ['~~', '^1\\.5$', 1.5, true],
    ['~~', '^1e\\+20$', 1e20, true],
    ['~~', '^0\\.33333333333333$', 1 / 3, true],
    // a JSON null value and a table are not nil
    ['~~', '^userdata: NULL$', null, true],
    ['~~', '^table: ', ['a'], true],
    // PCRE semantics, not JavaScript's
    ['~~', 'a$', 'a\n', true],
    ['~~', 'a.b', 'a\rb', true],
    ['~~', '^\\s$', '\xa0', false],
    ['~*', 'é', '\xc3\xa9', true],
    ['~*', 'é', '\xc3\x89', false],
  ])
})

t.test('in: r is an array; raw equality with an element', async (t) => {
  run(t, [
    ['in', ['GET', 'POST'], 'GET', true],
    ['in', ['GET', 'POST'], 'get', false],
    ['in', ['GET', 'POST'], 'PUT', false],
    ['in', ['GET', 'POST'], undefined, false],
    ['in', [1, 2], 1, true],
    ['in', [1, 2], '1', false],
    ['in', ['1', '2'], 1, false],
    ['in', [true], true, true],
    ['in', [null], null, true],
    ['in', [null], undefined, false],
    ['in', [[1]], [1], false],
    ['in', ['é'], '\xc3\xa9', true],
    ['in', [], 'a', false],
    ['in', 'GET', 'GET', false],
    ['in', { a: 'GET' }, 'GET', false],
    ['in', null, undefined, false],
  ])
})

t.test('has: l is an array holding an element raw-equal to r', async (t) => {
  run(t, [
    ['has', 'owner', ['repo', 'owner'], true],
    ['has', 'owner', ['repo'], false],
    ['has', 'owner', [], false],
    ['has', 'owner', 'owner', false],
    ['has', 'owner', undefined, false],
    ['has', 'owner', { 0: 'owner' }, false],
    ['has', 1, [1], true],
    ['has', 1, ['1'], false],
    ['has', 'é', ['\xc3\xa9'], true],
    ['has', null, [null], false],
    ['has', null, [], false],
    // ipairs stops at the first nil
    ['has', 'b', ['a', undefined, 'b'], false],
    ['has', 'b', ['a', null, 'b'], true],
  ])
})

t.test('ipmatch: addresses and CIDRs, one or a list', async (t) => {
  run(t, [
    ['ipmatch', '10.0.0.0/8', '10.1.2.3', true],
    ['ipmatch', '10.0.0.0/8', '11.1.2.3', false],
    ['ipmatch', '10.0.0.1', '10.0.0.1', true],
    ['ipmatch', ['127.0.0.1', '::1', '192.168.0.0/16'], '192.168.7.7', true],
    ['ipmatch', ['127.0.0.1', '::1', '192.168.0.0/16'], '::1', true],
    ['ipmatch', ['127.0.0.1', '::1', '192.168.0.0/16'], '::2', false],
    ['ipmatch', '0.0.0.0/0', '255.255.255.255', true],
    ['ipmatch', '1.2.3.4/32', '1.2.3.4', true],
    ['ipmatch', '1.2.3.4/32', '1.2.3.5', false],
    ['ipmatch', '::/0', '2001:db8::1', true],
    ['ipmatch', '2001:db8::1/128', '2001:db8::1', true],
    ['ipmatch', '2001:db8::1/128', '2001:db8::2', false],
    ['ipmatch', '10.0.0.0/8', '::ffff:10.0.0.1', false],
    ['ipmatch', '0.0.0.0/0', undefined, false],
    ['ipmatch', '0.0.0.0/0', '', false],
    ['ipmatch', '0.0.0.0/0', 'not an ip', false],
    ['ipmatch', '0.0.0.0/0', 167772161, false],
    ['ipmatch', '0.0.0.0/0', null, false],
  ])
})

t.test('operator names are case-insensitive', async (t) => {
  t.equal(compileFilter([['v', 'IN', ['a']]]).evaluate({ v: 'a' }), true)
  t.equal(compileFilter([['v', 'Has', 'a']]).evaluate({ v: ['a'] }), true)
  t.equal(compileFilter([['v', 'IPMATCH', '::1']]).evaluate({ v: '::1' }), true)
  t.equal(compileFilter([['v', '!', 'iN', ['a']]]).evaluate({ v: 'a' }), false)
})
