// The structure of lua-resty-expr 1.3.2 rules (lib/resty/expr/v1.lua `new`/`compile`),
// compiled into a tree of closures built once: evaluating walks it without parsing,
// compiling or allocating anything of its own, looks a variable up only when its leaf is
// reached, and stops AND at the first false and OR at the first true.
//
// Where the Lua code would raise a Lua error instead of returning a message (a non-string
// operator, a non-array element inside a rule, a non-string variable name...), APISIX fails
// with a 500 at config or request time; here it is a compile error with a clear message.

import { invalidFilter } from './error.js'
import { asciiLower, asciiUpper, luaNumberToString } from './lua.js'
import { OPERATORS } from './operators.js'
import type { CompiledFilter, FilterVariables } from './types.js'

type Test = (vars: FilterVariables) => boolean

const LOGIC_OPS = new Set(['AND', 'OR', '!AND', '!OR'])

const always: CompiledFilter = Object.freeze({ evaluate: () => true })

/** Lua's `type(v) == "table"`: a JSON array or object. */
function isTable(v: unknown): v is object {
  return typeof v === 'object' && v !== null
}

/** Lua's `#v` for a decoded JSON table: an object has no array part. */
function tableLength(v: object): number {
  return Array.isArray(v) ? v.length : 0
}

/** `string.upper(v)` for the values it accepts (strings and numbers), else undefined. */
function luaUpper(v: unknown): string | undefined {
  if (typeof v === 'string') return asciiUpper(v)
  if (typeof v === 'number') return luaNumberToString(v)
  return undefined
}

function luaLower(v: unknown): string | undefined {
  if (typeof v === 'string') return asciiLower(v)
  if (typeof v === 'number') return luaNumberToString(v)
  return undefined
}

function logicOp(v: unknown): string | undefined {
  const op = luaUpper(v)
  return op !== undefined && LOGIC_OPS.has(op) ? op : undefined
}

/**
 * Validates and compiles a `_meta.filter` rule. Throws ConfigError (code
 * EXT_ERR_INVALID_FILTER) with lua-resty-expr's message and a JSON pointer to the culprit.
 */
export function compileFilter(rule: unknown): CompiledFilter {
  if (rule === undefined || rule === null || rule === false) throw invalidFilter('missing argument rule', '')
  // APISIX's schema only lets arrays through to lua-resty-expr.
  if (!Array.isArray(rule)) throw invalidFilter('rule must be an array', '')
  if (rule.length === 0) return always
  const first: unknown = rule[0]
  if (!isTable(first) && logicOp(first) === undefined) {
    throw invalidFilter('rule should be wrapped inside brackets', '/0')
  }
  return Object.freeze({ evaluate: compileRule(rule, '') })
}

function compileRule(rule: object, path: string): Test {
  const n = tableLength(rule)
  if (n <= 0) throw invalidFilter('rule too short', path)
  const items = rule as readonly unknown[]
  const first = items[0]
  if (isTable(first)) {
    return all(items.map((item, i) => compileElement(item, `${path}/${i}`)))
  }
  const op = logicOp(first)
  if (op !== undefined) {
    if (n <= 2) throw invalidFilter('rule too short', path)
    const operands = items.slice(1).map((item, i) => compileElement(item, `${path}/${i + 1}`))
    switch (op) {
      case 'AND':
        return all(operands)
      case 'OR':
        return any(operands)
      case '!AND':
        return not(all(operands))
      default:
        return not(any(operands))
    }
  }
  return compileExpression(items, path)
}

function compileElement(item: unknown, path: string): Test {
  if (!isTable(item)) throw invalidFilter('rule should be wrapped inside brackets', path)
  return compileRule(item, path)
}

/** `[var, op, value]`, `[var, "!", op, value]` or the legacy `[var, value]` (== lower-cased value). */
function compileExpression(expr: readonly unknown[], path: string): Test {
  const n = expr.length
  let negate = false
  let opIndex = 1
  if (n === 4) {
    if (expr[1] !== '!') throw invalidFilter("bad 'not' expression", `${path}/1`)
    negate = true
    opIndex = 2
  }
  // Lua only reads the first three (or four) elements; any further ones are ignored.
  const valueIndex = opIndex + 1
  const name = expr[0]
  const rawOp = expr[opIndex]
  const hasValue = valueIndex < n
  let value: unknown = hasValue ? expr[valueIndex] : undefined

  let op: string | undefined
  if (opIndex < n) {
    op = luaLower(rawOp)
    if (op === undefined) throw invalidFilter('invalid expression', `${path}/${opIndex}`)
  }
  if (!hasValue && (op === undefined || !OPERATORS.has(op))) {
    // The legacy two-element form: the "operator" is the value, already lower-cased.
    if (op === undefined) throw invalidFilter('invalid expression', path)
    value = op
    op = '=='
  }
  if (op === undefined) throw invalidFilter('invalid expression', path)
  const compileOp = OPERATORS.get(op)
  if (compileOp === undefined) throw invalidFilter(`invalid operator '${op}'`, `${path}/${opIndex}`)
  // ctx[name] in APISIX only resolves string names; anything else fails every request.
  if (typeof name !== 'string') throw invalidFilter('invalid expression', `${path}/0`)

  // JSON null on the right is nil (lua-resty-expr's compare_val).
  const r = value === null ? undefined : value
  const compare = compileOp(r, hasValue ? `${path}/${valueIndex}` : path)
  return leaf(name, compare, negate)
}

function leaf(name: string, compare: (l: unknown) => boolean, negate: boolean): Test {
  // A plain object's inherited members ("constructor", "toString"...) are not variables.
  const inherited = name in Object.prototype
  const get = (vars: FilterVariables): unknown => {
    if (typeof vars === 'function') return vars(name)
    if (inherited && !Object.hasOwn(vars, name)) return undefined
    return vars[name]
  }
  return negate ? (vars) => !compare(get(vars)) : (vars) => compare(get(vars))
}

function all(tests: readonly Test[]): Test {
  if (tests.length === 1) return tests[0] as Test
  return (vars) => {
    for (let i = 0; i < tests.length; i++) if (!(tests[i] as Test)(vars)) return false
    return true
  }
}

function any(tests: readonly Test[]): Test {
  return (vars) => {
    for (let i = 0; i < tests.length; i++) if ((tests[i] as Test)(vars)) return true
    return false
  }
}

function not(test: Test): Test {
  return (vars) => !test(vars)
}
