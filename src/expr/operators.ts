// lua-resty-expr's comparison operators. Each is compiled once with its configured value
// (r) into a test of the variable's value (l), so that evaluation only compares: numbers
// are converted, patterns translated and IP lists parsed here, never per request.

import { invalidFilter } from './error.js'
import { compileIpMatcher } from './ip.js'
import { luaToNumber, luaToString, toByteString } from './lua.js'
import { PcreError, compilePcre } from './pcre.js'

/** A compiled operator with its configured value bound: true when l satisfies it. */
export type Comparison = (l: unknown) => boolean

/** Compiles an operator for configured value `r` (nil is `undefined`); `path` locates r for errors. */
export type OperatorCompiler = (r: unknown, path: string) => Comparison

const never: Comparison = () => false

/** A configured value as Lua holds it: strings as their UTF-8 bytes. */
function luaValue(r: unknown): unknown {
  return typeof r === 'string' ? toByteString(r) : r
}

/**
 * Lua's `l == r` after lua-resty-expr's coercion: when r is a number, l goes through
 * tonumber (not convertible: false); otherwise raw equality, so "1" never equals 1 and
 * tables only equal themselves.
 */
function equals(r: unknown): Comparison {
  if (typeof r === 'number') return (l) => luaToNumber(l) === r
  const value = luaValue(r)
  return (l) => l === value
}

type Order = (l: number, r: number) => boolean

/** `>` `>=` `<` `<=`: both sides through tonumber; either not a number gives false. */
function ordered(order: Order): OperatorCompiler {
  return (r) => {
    const rn = luaToNumber(r)
    if (rn === undefined) return never
    return (l) => {
      const ln = luaToNumber(l)
      return ln !== undefined && order(ln, rn)
    }
  }
}

/** `~~` / `~*`: unanchored PCRE search of l, converted with tostring; nil and false never match. */
function regex(caseless: boolean): OperatorCompiler {
  return (r, path) => {
    if (typeof r !== 'string') throw invalidFilter('invalid regular expression: the pattern must be a string', path)
    let re: RegExp
    try {
      re = compilePcre(toByteString(r), { caseless })
    } catch (err) {
      if (!(err instanceof PcreError)) throw err
      throw invalidFilter(`invalid regular expression '${r}': ${err.message} (offset ${err.offset})`, path)
    }
    return (l) => {
      if (l === undefined || l === false) return false
      return re.test(typeof l === 'string' ? l : luaToString(l))
    }
  }
}

/** `in`: r must be an array; raw equality with any of its elements. */
const inArray: OperatorCompiler = (r) => {
  if (!Array.isArray(r)) return never
  // A Set compares like Lua's == for every value a variable can equal (NaN never equals).
  const values = new Set<unknown>()
  for (const v of r) {
    if (typeof v === 'object' && v !== null) continue // a table only equals itself
    if (typeof v === 'number' && Number.isNaN(v)) continue
    values.add(v === undefined ? null : luaValue(v))
  }
  return (l) => values.has(l)
}

/** `has`: l must be an array (ipairs: up to its first nil) holding an element raw-equal to r. */
const hasElement: OperatorCompiler = (r) => {
  if (r === undefined) return never
  const value = luaValue(r)
  return (l) => {
    if (!Array.isArray(l)) return false
    for (let i = 0; i < l.length; i++) {
      const v: unknown = l[i]
      if (v === undefined) return false
      if (v === value) return true
    }
    return false
  }
}

/** `ipmatch`: r is one address/CIDR or a list of them, validated here. */
const ipMatch: OperatorCompiler = (r, path) => {
  // lua-resty-expr's own check, before lua-resty-ipmatcher sees the list.
  if (r === undefined || r === false || r === '') throw invalidFilter('invalid ip address', path)
  const entries: unknown[] = Array.isArray(r) ? r : typeof r === 'object' && r !== null ? [] : [r]
  if (entries.length === 0) throw invalidFilter('invalid ip address', path)
  const texts = entries.map((entry, index) => {
    if (typeof entry !== 'string') {
      throw invalidFilter(`invalid ip address: ${String(entry)}`, entryPath(r, path, index))
    }
    return entry
  })
  const matcher = compileIpMatcher(texts, (message, index) => {
    throw invalidFilter(message, entryPath(r, path, index))
  })
  return (l) => typeof l === 'string' && matcher(l)
}

function entryPath(r: unknown, path: string, index: number): string {
  return Array.isArray(r) ? `${path}/${index}` : path
}

export const OPERATORS: ReadonlyMap<string, OperatorCompiler> = new Map<string, OperatorCompiler>([
  ['==', equals],
  [
    '~=',
    (r) => {
      const eq = equals(r)
      return (l) => !eq(l)
    },
  ],
  ['>', ordered((l, r) => l > r)],
  ['>=', ordered((l, r) => l >= r)],
  ['<', ordered((l, r) => l < r)],
  ['<=', ordered((l, r) => l <= r)],
  ['~~', regex(false)],
  ['~*', regex(true)],
  ['in', inArray],
  ['has', hasElement],
  ['ipmatch', ipMatch],
])
