// Rule structure, compile errors (message and JSON pointer), evaluation order and laziness.
import t from 'tap'
import { ConfigError, ErrorCode } from '../../src/errors.js'
import { compileFilter } from '../../src/expr/index.js'

const PREFIX = "failed to validate the 'vars' expression: "

/** A variables function that records every name asked for. */
function recorder(values: Record<string, unknown>): { vars: (name: string) => unknown; asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    vars: (name) => {
      asked.push(name)
      return values[name]
    },
  }
}

t.test('structure', async (t) => {
  const vars = { a: '1', b: '2', c: '3' }
  const cases: Array<[unknown[], boolean]> = [
    [[], true],
    // implicit AND of a list of expressions
    [[['a', '==', '1']], true],
    [[['a', '==', '1'], ['b', '==', '2']], true],
    [[['a', '==', '1'], ['b', '==', 'x']], false],
    // logical operators, case-insensitive, at least two operands
    [['AND', ['a', '==', '1'], ['b', '==', '2']], true],
    [['and', ['a', '==', '1'], ['b', '==', 'x']], false],
    [['OR', ['a', '==', 'x'], ['b', '==', '2']], true],
    [['Or', ['a', '==', 'x'], ['b', '==', 'x']], false],
    [['!AND', ['a', '==', '1'], ['b', '==', '2']], false],
    [['!and', ['a', '==', '1'], ['b', '==', 'x']], true],
    [['!OR', ['a', '==', 'x'], ['b', '==', 'x']], true],
    [['!oR', ['a', '==', '1'], ['b', '==', 'x']], false],
    [['OR', ['a', '==', 'x'], ['b', '==', 'x'], ['c', '==', '3']], true],
    // nesting: groups inside groups, implicit AND inside a group
    [['OR', ['AND', ['a', '==', '1'], ['b', '==', 'x']], ['AND', ['b', '==', '2'], ['c', '==', '3']]], true],
    [['AND', ['OR', ['a', '==', 'x'], ['!OR', ['b', '==', 'x'], ['c', '==', 'x']]], ['c', '~~', '^3$']], true],
    [['OR', [['a', '==', '1'], ['b', '==', '2']], ['c', '==', 'x']], true],
    [['OR', [['a', '==', '1'], ['b', '==', 'x']], ['c', '==', 'x']], false],
    [[['OR', ['a', '==', 'x'], ['b', '==', '2']], ['c', '==', '3']], true],
    [[[['a', '==', '1']]], true],
    [[[[['a', '==', 'x']]]], false],
    // negated expressions
    [[['a', '!', '==', '1']], false],
    [[['a', '!', '==', 'x']], true],
    [[['missing', '!', '~~', 'x']], true],
    [['!AND', ['a', '!', '==', 'x'], ['b', '!', '==', 'x']], false],
    // Lua reads only the first three elements of a longer expression
    [[['a', '==', '1', 'ignored', 'too']], true],
  ]
  for (const [rule, expected] of cases) {
    t.equal(compileFilter(rule).evaluate(vars), expected, JSON.stringify(rule))
  }
})

t.test('legacy [var, value] form', async (t) => {
  const cases: Array<[unknown[], Record<string, unknown>, boolean]> = [
    [['arg_x', 'abc'], { arg_x: 'abc' }, true],
    // the value is lower-cased (it passed through the operator's string.lower)
    [['arg_x', 'ABC'], { arg_x: 'abc' }, true],
    [['arg_x', 'ABC'], { arg_x: 'ABC' }, false],
    [['arg_x', 'ÀB'], { arg_x: '\xc3\x80b' }, true],
    // a number becomes its %.14g text
    [['arg_x', 5], { arg_x: '5' }, true],
    [['arg_x', 5], { arg_x: 5 }, false],
    [['arg_x', 1e20], { arg_x: '1e+20' }, true],
    // "!" alone is not an operator, so it is the legacy value
    [['arg_x', '!'], { arg_x: '!' }, true],
    // a known operator without a value compares with nil
    [['arg_x', '=='], {}, true],
    [['arg_x', '=='], { arg_x: '' }, false],
    [['arg_x', '~='], { arg_x: 'x' }, true],
    [['arg_x', 'IN'], { arg_x: 'in' }, false],
    [['arg_x', 'has'], { arg_x: ['has'] }, false],
    [['arg_x', '>'], { arg_x: '1' }, false],
  ]
  for (const [expr, vars, expected] of cases) {
    t.equal(compileFilter([expr]).evaluate(vars), expected, `${JSON.stringify(expr)} with ${JSON.stringify(vars)}`)
  }
})

t.test('compile errors: message and JSON pointer', async (t) => {
  const cases: Array<[unknown, string, string]> = [
    [undefined, 'missing argument rule', ''],
    [null, 'missing argument rule', ''],
    [false, 'missing argument rule', ''],
    [{}, 'rule must be an array', ''],
    ['a', 'rule must be an array', ''],
    [['a', '==', 'b'], 'rule should be wrapped inside brackets', '/0'],
    [[1], 'rule should be wrapped inside brackets', '/0'],
    [[true], 'rule should be wrapped inside brackets', '/0'],
    [[null], 'rule should be wrapped inside brackets', '/0'],
    [['XOR', ['a', '==', 'b'], ['a', '==', 'b']], 'rule should be wrapped inside brackets', '/0'],
    [['AND'], 'rule too short', ''],
    [['AND', ['a', '==', 'b']], 'rule too short', ''],
    [['!or', ['a', '==', 'b']], 'rule too short', ''],
    [[[]], 'rule too short', '/0'],
    [[{}], 'rule too short', '/0'],
    [[['a', '==', 'b'], {}], 'rule too short', '/1'],
    [[['a', '==', 'b'], ['AND', ['x', '==', 'y']]], 'rule too short', '/1'],
    [['OR', ['a', '==', 'b'], ['OR', ['c', '==', 'd']]], 'rule too short', '/2'],
    [[['a', '==', 'b'], 'c'], 'rule should be wrapped inside brackets', '/1'],
    [[['a', '==', 'b'], 5], 'rule should be wrapped inside brackets', '/1'],
    [['AND', ['a', '==', 'b'], null], 'rule should be wrapped inside brackets', '/2'],
    [[['and', '==', 'x']], 'rule should be wrapped inside brackets', '/0/1'],
    [['OR', ['a', '==', '1'], ['b', '==', '2', 'x']], "bad 'not' expression", '/2/1'],
    [[['a', 'not', '==', 'x']], "bad 'not' expression", '/0/1'],
    [[['a']], 'invalid expression', '/0'],
    [[['a', null, 'x']], 'invalid expression', '/0/1'],
    [[['a', true]], 'invalid expression', '/0/1'],
    [[['a', ['=='], 'x']], 'invalid expression', '/0/1'],
    [[[null, '==', 'x']], 'invalid expression', '/0/0'],
    [[[5, '==', 'x']], 'invalid expression', '/0/0'],
    [[['a', '=', 'x']], "invalid operator '='", '/0/1'],
    [[['a', 'LIKE', 'x']], "invalid operator 'like'", '/0/1'],
    [[['a', 5, 'x']], "invalid operator '5'", '/0/1'],
    [[['a', '!', 'like', 'x']], "invalid operator 'like'", '/0/2'],
    [[['a', 'constructor', 'x']], "invalid operator 'constructor'", '/0/1'],
    [[[null, 'like', 'x']], "invalid operator 'like'", '/0/1'],
    [[['a', 'ipmatch']], 'invalid ip address', '/0'],
    [[['a', 'ipmatch', null]], 'invalid ip address', '/0/2'],
    [[['a', 'ipmatch', false]], 'invalid ip address', '/0/2'],
    [[['a', 'ipmatch', '']], 'invalid ip address', '/0/2'],
    [[['a', 'ipmatch', []]], 'invalid ip address', '/0/2'],
    [[['a', 'ipmatch', {}]], 'invalid ip address', '/0/2'],
    [[['a', 'ipmatch', '1.2.3']], 'invalid ip address: 1.2.3', '/0/2'],
    [[['a', 'ipmatch', '1.2.3.4/40']], 'invalid ip address: 1.2.3.4/40', '/0/2'],
    [[['a', 'ipmatch', true]], 'invalid ip address: true', '/0/2'],
    [[['a', 'ipmatch', ['1.2.3.4', 'x/8']]], 'invalid ip address: x', '/0/2/1'],
    [[['a', 'ipmatch', ['1.2.3.4', 7]]], 'invalid ip address: 7', '/0/2/1'],
    [[['a', '!', 'ipmatch', ['::1', '']]], 'invalid ip address: ', '/0/3/1'],
    [[['a', '~~']], 'invalid regular expression: the pattern must be a string', '/0'],
    [[['a', '~~', null]], 'invalid regular expression: the pattern must be a string', '/0/2'],
    [[['a', '~*', 5]], 'invalid regular expression: the pattern must be a string', '/0/2'],
    [[['a', '~~', '(x']], "invalid regular expression '(x': missing closing parenthesis (offset 0)", '/0/2'],
    [
      [['a', '!', '~~', 'a*+']],
      "invalid regular expression 'a*+': possessive quantifiers are not supported (offset 1)",
      '/0/3',
    ],
    [
      ['OR', ['a', '==', '1'], [['b', '~*', '(b)\\1']]],
      "invalid regular expression '(b)\\1': back-references in caseless patterns are not supported (offset 3)",
      '/2/0/2',
    ],
    // the first error in document order wins
    [[['a', 'LIKE', 'x'], ['b']], "invalid operator 'like'", '/0/1'],
  ]
  for (const [rule, reason, path] of cases) {
    const label = JSON.stringify(rule) ?? 'undefined'
    const err = t.throws(() => compileFilter(rule), label) as ConfigError
    t.ok(err instanceof ConfigError, `${label}: ConfigError`)
    t.equal(err.code, ErrorCode.INVALID_FILTER, `${label}: code`)
    t.equal(err.path, path, `${label}: path`)
    t.equal(err.message, PREFIX + reason + (path === '' ? '' : ` at ${path}`), `${label}: message`)
  }
})

t.test('the compiled filter', async (t) => {
  const filter = compileFilter([['a', '==', '1']])
  t.ok(Object.isFrozen(filter))
  const { evaluate } = filter
  t.equal(evaluate({ a: '1' }), true, 'evaluate works detached')
  t.equal(filter.evaluate({ a: '1' }), true, 'and again (no state)')
  t.equal(filter.evaluate({ a: '2' }), false)
})

t.test('an empty rule never reads a variable', async (t) => {
  const filter = compileFilter([])
  t.equal(
    filter.evaluate(() => {
      throw new Error('must not be called')
    }),
    true,
  )
})

t.test('variables are looked up lazily, once per leaf reached', async (t) => {
  const { vars, asked } = recorder({ a: '1', b: '2' })
  const filter = compileFilter([['a', '==', '1'], ['b', '==', '2'], ['a', '~=', 'x']])
  t.equal(filter.evaluate(vars), true)
  t.same(asked, ['a', 'b', 'a'])
})

t.test('AND stops at the first false: later variables are not looked up', async (t) => {
  const cases: Array<[unknown[], boolean, string[]]> = [
    [[['a', '==', 'x'], ['b', '==', '2']], false, ['a']],
    [['AND', ['a', '==', '1'], ['b', '==', 'x'], ['c', '==', '3']], false, ['a', 'b']],
    [['!AND', ['a', '==', 'x'], ['b', '==', '2']], true, ['a']],
    [['AND', ['OR', ['a', '==', 'x'], ['b', '==', 'x']], ['c', '==', '3']], false, ['a', 'b']],
  ]
  for (const [rule, expected, lookups] of cases) {
    const { vars, asked } = recorder({ a: '1', b: '2', c: '3' })
    t.equal(compileFilter(rule).evaluate(vars), expected, JSON.stringify(rule))
    t.same(asked, lookups, `${JSON.stringify(rule)} looked up`)
  }
})

t.test('OR stops at the first true: later variables are not looked up', async (t) => {
  const cases: Array<[unknown[], boolean, string[]]> = [
    [['OR', ['a', '==', '1'], ['b', '==', '2']], true, ['a']],
    [['OR', ['a', '==', 'x'], ['b', '==', '2'], ['c', '==', '3']], true, ['a', 'b']],
    [['!OR', ['a', '==', '1'], ['b', '==', '2']], false, ['a']],
    [['OR', ['AND', ['a', '==', '1'], ['b', '==', '2']], ['c', '==', '3']], true, ['a', 'b']],
    [['OR', ['a', '!', '==', 'x'], ['c', '==', '3']], true, ['a']],
  ]
  for (const [rule, expected, lookups] of cases) {
    const { vars, asked } = recorder({ a: '1', b: '2', c: '3' })
    t.equal(compileFilter(rule).evaluate(vars), expected, JSON.stringify(rule))
    t.same(asked, lookups, `${JSON.stringify(rule)} looked up`)
  }
})

t.test('an exception from the variables function propagates', async (t) => {
  const boom = new Error('resolver failed')
  const filter = compileFilter([['a', '==', '1']])
  t.throws(
    () =>
      filter.evaluate(() => {
        throw boom
      }),
    boom,
  )
})

t.test('inherited object members are not variables', async (t) => {
  t.equal(compileFilter([['constructor', '==', null]]).evaluate({}), true)
  t.equal(compileFilter([['toString', '==', null]]).evaluate({ a: 1 }), true)
  t.equal(compileFilter([['constructor', '==', 'x']]).evaluate({ constructor: 'x' }), true)
  t.equal(compileFilter([['__proto__', '==', null]]).evaluate({}), true)
})

t.test('APISIX-style rules', async (t) => {
  const rule = [
    'OR',
    ['arg_name', '==', 'json'],
    ['AND', ['http_x_api_version', '>=', 2], ['remote_addr', 'ipmatch', ['10.0.0.0/8', '::1']]],
  ]
  const filter = compileFilter(rule)
  t.equal(filter.evaluate({ arg_name: 'json' }), true)
  t.equal(filter.evaluate({ http_x_api_version: '2', remote_addr: '10.9.8.7' }), true)
  t.equal(filter.evaluate({ http_x_api_version: '1', remote_addr: '10.9.8.7' }), false)
  t.equal(filter.evaluate({ http_x_api_version: '3', remote_addr: '192.168.0.1' }), false)
  t.equal(filter.evaluate({ http_x_api_version: '0x10', remote_addr: '::1' }), true)
  t.equal(filter.evaluate({}), false)
})
