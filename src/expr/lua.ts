// The few Lua (LuaJIT 2.1, as in OpenResty) value conversions lua-resty-expr relies on.
// They are reproduced exactly because filters compare request data, which is text, with
// configured values that may be numbers: "0x10" > 15 is true in APISIX and must be here.

/**
 * Lua `tonumber(v)` with one argument: numbers pass through, strings are scanned the way
 * LuaJIT's lj_strscan does, anything else gives nil.
 *
 * Accepted text: optional surrounding whitespace (\t \n \v \f \r and space), an optional
 * sign, then a decimal number with optional fraction and `e` exponent, a `0x` hex number
 * with optional fraction and `p` exponent, a `0b` binary integer, or `inf`, `infinity`,
 * `nan` (any case). Anything else, including an embedded NUL, gives nil.
 *
 * Runs per evaluation on request data, so the usual paths allocate nothing.
 */
export function luaToNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (typeof v !== 'string') return undefined
  return scanNumber(v)
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d)
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10
  return -1
}

function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c
}

function scanNumber(s: string): number | undefined {
  const n = s.length
  let i = 0
  while (i < n && isSpace(s.charCodeAt(i))) i++
  let negative = false
  const sign = s.charCodeAt(i)
  if (sign === 0x2b || sign === 0x2d) {
    negative = sign === 0x2d
    i++
  }
  let end = n
  while (end > i && isSpace(s.charCodeAt(end - 1))) end--
  if (i >= end) return undefined

  // LuaJIT takes a letter after the sign as the start of inf/nan, and nothing else.
  if (s.charCodeAt(i) >= 0x41) return scanWord(s, i, end, negative)

  const x = lowerAscii(s.charCodeAt(i + 1))
  if (s.charCodeAt(i) === 0x30 && (x === 0x78 || x === 0x62)) {
    const value = x === 0x78 ? scanHex(s, i + 2, end) : scanBinary(s, i + 2, end)
    return value === undefined || !negative ? value : -value
  }
  return scanDecimal(s, i, end, negative)
}

function matchesWord(s: string, i: number, word: string, length: number): boolean {
  for (let k = 0; k < length; k++) if (lowerAscii(s.charCodeAt(i + k)) !== word.charCodeAt(k)) return false
  return true
}

function scanWord(s: string, i: number, end: number, negative: boolean): number | undefined {
  const length = end - i
  if ((length === 3 || length === 8) && matchesWord(s, i, 'infinity', length)) return negative ? -Infinity : Infinity
  if (length === 3 && matchesWord(s, i, 'nan', 3)) return NaN
  return undefined
}

// LuaJIT stops growing an exponent once it reaches this value.
const EXPONENT_CAP = 65536

// Out-values of scanExponent, which must not allocate (scanning is synchronous).
let exponentValue = 0
let exponentCapped = false

/** Reads `[+-]digits` from `i`; returns the index after it, or -1. */
function scanExponent(s: string, i: number, end: number): number {
  let negative = false
  const sign = s.charCodeAt(i)
  if (sign === 0x2b || sign === 0x2d) {
    negative = sign === 0x2d
    i++
  }
  if (i >= end || !isDigit(s.charCodeAt(i))) return -1
  let value = 0
  exponentCapped = false
  for (; i < end && isDigit(s.charCodeAt(i)); i++) {
    if (value < EXPONENT_CAP) value = value * 10 + (s.charCodeAt(i) - 0x30)
    else exponentCapped = true
  }
  exponentValue = negative ? -value : value
  return i
}

function scanDecimal(s: string, start: number, end: number, negative: boolean): number | undefined {
  let i = start
  let digits = 0
  let dot = false
  for (; i < end; i++) {
    const c = s.charCodeAt(i)
    if (isDigit(c)) digits++
    else if (c === 0x2e && !dot) dot = true
    else break
  }
  if (digits === 0) return undefined
  const mantissaEnd = i
  let capped = false
  if (i < end && lowerAscii(s.charCodeAt(i)) === 0x65) {
    i = scanExponent(s, i + 1, end)
    if (i < 0) return undefined
    capped = exponentCapped
  }
  if (i !== end) return undefined
  // The text is now plain decimal with only ASCII whitespace around it, which the engine
  // converts with correct rounding, as LuaJIT does.
  if (!capped) return Number(s)
  const value = Number(`${s.slice(start, mantissaEnd)}e${exponentValue}`)
  return negative ? -value : value
}

function scanHex(s: string, start: number, end: number): number | undefined {
  let i = start
  let digits = 0
  let fractionDigits = 0
  let dot = false
  let small = 0
  for (; i < end; i++) {
    const c = s.charCodeAt(i)
    const d = hexValue(c)
    if (d >= 0) {
      digits++
      if (dot) fractionDigits++
      if (digits <= 13) small = small * 16 + d
    } else if (c === 0x2e && !dot) {
      dot = true
    } else {
      break
    }
  }
  if (digits === 0) return undefined
  const mantissaEnd = i
  let exponent = -4 * fractionDigits
  if (i < end && lowerAscii(s.charCodeAt(i)) === 0x70) {
    i = scanExponent(s, i + 1, end)
    if (i < 0) return undefined
    exponent += exponentValue
  }
  if (i !== end) return undefined
  if (digits <= 13) {
    // Exact: at most 52 bits, scaled by a power of two into the normal range (or past it).
    if (small === 0) return 0
    if (exponent >= -1022) return small * 2 ** exponent
  }
  let mantissa = 0n
  for (let k = start; k < mantissaEnd; k++) {
    const d = hexValue(s.charCodeAt(k))
    if (d >= 0) mantissa = mantissa * 16n + BigInt(d)
  }
  return scaleBinary(mantissa, exponent)
}

function scanBinary(s: string, start: number, end: number): number | undefined {
  // LuaJIT accepts 0b integers only: no point, no exponent, at most 64 significant digits.
  let significant = 0
  let value = 0
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c !== 0x30 && c !== 0x31) return undefined
    if (significant > 0 || c === 0x31) significant++
    value = value * 2 + (c - 0x30)
  }
  if (end === start || significant > 64) return undefined
  if (significant <= 53) return value
  return Number(BigInt(`0b${s.slice(start, end)}`))
}

/** mantissa × 2^exponent, rounded once to the nearest double (ties to even), like LuaJIT. */
function scaleBinary(mantissa: bigint, exponent: number): number {
  if (mantissa === 0n) return 0
  const bits = mantissa.toString(2).length
  const top = bits + exponent - 1
  if (top > 1023) return Infinity
  // Keep 53 significant bits for normal results, fewer for subnormals (unit 2^-1074).
  const keep = top >= -1022 ? 53 : top + 1075
  if (keep <= 0) {
    // Below half the smallest subnormal, or exactly half of it (ties to even gives 0).
    return keep === 0 && mantissa !== 1n << BigInt(bits - 1) ? Number.MIN_VALUE : 0
  }
  const drop = bits - keep
  if (drop > 0) {
    const shift = BigInt(drop)
    const half = 1n << (shift - 1n)
    const rest = mantissa & ((1n << shift) - 1n)
    let kept = mantissa >> shift
    if (rest > half || (rest === half && (kept & 1n) === 1n)) kept += 1n
    return ldexp(Number(kept), exponent + drop)
  }
  return ldexp(Number(mantissa), exponent)
}

/** x × 2^e for an integer x ≥ 1 and e ≥ -1074: exact, or Infinity past the largest double. */
function ldexp(x: number, e: number): number {
  return x * 2 ** e
}

/**
 * Lua `tostring(n)` for a number: C's `%.14g`, with LuaJIT's `inf`, `-inf`, `nan` and `-0`.
 * Rounds half away from zero on the exact binary value, as LuaJIT's formatter does.
 */
export function luaNumberToString(n: number): string {
  if (Number.isNaN(n)) return 'nan'
  if (n === Infinity) return 'inf'
  if (n === -Infinity) return '-inf'
  if (n === 0) return Object.is(n, -0) ? '-0' : '0'
  const sign = n < 0 ? '-' : ''
  const [mantissa = '', exp = '0'] = Math.abs(n).toExponential(13).split('e')
  const x = Number(exp)
  const digits = mantissa.replace('.', '')
  if (x < -4 || x >= 14) {
    const m = stripZeros(`${digits[0] ?? ''}.${digits.slice(1)}`)
    const e = Math.abs(x)
    return `${sign}${m}e${x < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`
  }
  const fixed = x >= 0 ? `${digits.slice(0, x + 1)}.${digits.slice(x + 1)}` : `0.${'0'.repeat(-x - 1)}${digits}`
  return sign + stripZeros(fixed)
}

function stripZeros(s: string): string {
  if (!s.includes('.')) return s
  let end = s.length
  while (s.charCodeAt(end - 1) === 0x30) end--
  if (s.charCodeAt(end - 1) === 0x2e) end--
  return s.slice(0, end)
}

/**
 * Lua `tostring(v)` for what a variable can hold. Tables and other reference values print
 * an address in Lua; a fixed placeholder address stands in for it.
 */
export function luaToString(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v
    case 'number':
      return luaNumberToString(v)
    case 'boolean':
      return v ? 'true' : 'false'
    case 'undefined':
      return 'nil'
    case 'bigint':
      return `${v}LL`
    case 'function':
      return 'function: 0x00000000'
    case 'object':
      return v === null ? 'userdata: NULL' : 'table: 0x00000000'
    default:
      return 'userdata: 0x00000000'
  }
}

/** Lua `string.lower`: C locale, so ASCII letters only. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}

/** Lua `string.upper`: C locale, so ASCII letters only. */
export function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase())
}

const NON_ASCII = /[^\x00-\x7f]/

/**
 * The bytes Lua would hold for a configured string, one char per byte (latin1), which is
 * how Node hands over header values. APISIX compares bytes, so a rule's "é" must equal the
 * two bytes C3 A9 received on the wire.
 */
export function toByteString(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s
}
