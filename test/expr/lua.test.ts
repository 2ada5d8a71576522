// Lua value conversions. Expected values are LuaJIT 2.1's (`tonumber`, `tostring`), which
// these functions were checked against on 60 000 generated strings and 30 000 numbers.
import t from 'tap'
import {
  asciiLower,
  asciiUpper,
  luaNumberToString,
  luaToNumber,
  luaToString,
  toByteString,
} from '../../src/expr/lua.js'

t.test('luaToNumber', async (t) => {
  const cases: Array<[unknown, number | undefined]> = [
    // numbers pass through; other types are nil
    [42, 42],
    [-1.5, -1.5],
    [true, undefined],
    [false, undefined],
    [null, undefined],
    [undefined, undefined],
    [[1], undefined],
    [{}, undefined],
    // decimal
    ['10', 10],
    ['010', 10],
    ['-7', -7],
    ['+5', 5],
    ['5.', 5],
    ['.5', 0.5],
    ['-.5', -0.5],
    ['1e2', 100],
    ['1E+2', 100],
    ['2.5e-1', 0.25],
    ['0.1', 0.1],
    ['1e400', Infinity],
    ['-1e400', -Infinity],
    ['1e-400', 0],
    ['1e999999', Infinity],
    ['-1e0000000000000000002', -100],
    ['0.0000000000000000000000000000000000000001e40', 1],
    ['9007199254740993', 9007199254740992],
    // surrounding whitespace: \t \n \v \f \r and space
    [' 10 ', 10],
    ['\t\n\v\f\r 3 \r\n', 3],
    // hex, with fraction and binary exponent
    ['0x10', 16],
    ['0XfF', 255],
    ['-0x10', -16],
    ['0x.8', 0.5],
    ['0x1.8', 1.5],
    ['0x1p4', 16],
    ['0X1P-2', 0.25],
    ['0x1e', 30],
    ['0x0p99999', 0],
    ['0x1p99999', Infinity],
    ['0x123456789abcdef', 81985529216486900],
    ['0x1p-1074', 5e-324],
    ['0x1p-1075', 0],
    ['0x1.8p-1075', 5e-324],
    ['0x1p1024', Infinity],
    ['0xffffffffffffffff', 18446744073709552000],
    // binary integers (LuaJIT 2.1)
    ['0b101', 5],
    ['0B1', 1],
    ['0b' + '1'.repeat(64), 18446744073709552000],
    // rejected
    ['', undefined],
    ['   ', undefined],
    ['.', undefined],
    ['1e', undefined],
    ['1e+', undefined],
    ['0x', undefined],
    ['0b', undefined],
    ['0b102', undefined],
    ['0b1.', undefined],
    ['0b1.0', undefined],
    ['0b' + '1'.repeat(65), undefined],
    ['00x1', undefined],
    ['- 5', undefined],
    ['+-5', undefined],
    ['1 2', undefined],
    ['1_000', undefined],
    ['10ull', undefined],
    ['1.2.3', undefined],
    ['abc', undefined],
    ['\xa05', undefined],
    ['5\0', undefined],
    ['\0', undefined],
    ['infinit', undefined],
    ['nanx', undefined],
  ]
  for (const [input, expected] of cases) {
    t.equal(luaToNumber(input), expected, JSON.stringify(input))
  }
  // inf / infinity / nan, any case, with a sign and whitespace
  t.equal(luaToNumber('inf'), Infinity)
  t.equal(luaToNumber(' -Infinity '), -Infinity)
  t.equal(luaToNumber('INF'), Infinity)
  t.ok(Number.isNaN(luaToNumber('nan')))
  t.ok(Number.isNaN(luaToNumber('-NaN')))
  t.ok(Number.isNaN(luaToNumber(NaN)))
  t.ok(Object.is(luaToNumber('-0'), -0))
})

t.test('luaNumberToString is %.14g with LuaJIT spellings', async (t) => {
  const cases: Array<[number, string]> = [
    [0, '0'],
    [-0, '-0'],
    [1, '1'],
    [-1, '-1'],
    [100, '100'],
    [0.1, '0.1'],
    [0.5, '0.5'],
    [1 / 3, '0.33333333333333'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [2.5e-5, '2.5e-05'],
    [12345678901234, '12345678901234'],
    [1e14, '1e+14'],
    [123456789012345, '1.2345678901235e+14'],
    [1e15, '1e+15'],
    [2 ** 53, '9.007199254741e+15'],
    [1e100, '1e+100'],
    [5e-324, '4.9406564584125e-324'],
    [1.7976931348623157e308, '1.7976931348623e+308'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, 'nan'],
  ]
  for (const [n, expected] of cases) t.equal(luaNumberToString(n), expected, String(n))
})

t.test('luaToString', async (t) => {
  const cases: Array<[unknown, string]> = [
    ['text', 'text'],
    [true, 'true'],
    [false, 'false'],
    [undefined, 'nil'],
    [null, 'userdata: NULL'],
    [12, '12'],
    [1.5, '1.5'],
    [[1, 2], 'table: 0x00000000'],
    [{ a: 1 }, 'table: 0x00000000'],
  ]
  for (const [v, expected] of cases) t.equal(luaToString(v), expected, JSON.stringify(v) ?? String(v))
})

t.test('ASCII-only case mapping (C locale)', async (t) => {
  t.equal(asciiLower('AbC-ÀÉ'), 'abc-ÀÉ')
  t.equal(asciiUpper('aNd!or-àé'), 'AND!OR-àé')
})

t.test('toByteString gives the UTF-8 bytes one char per byte', async (t) => {
  t.equal(toByteString('plain ascii'), 'plain ascii')
  t.equal(toByteString('é'), '\xc3\xa9')
  t.equal(toByteString('café'), 'caf\xc3\xa9')
  t.equal(toByteString('€'), '\xe2\x82\xac')
})
