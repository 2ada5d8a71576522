// Sets of UTF-16 code units as sorted, merged, inclusive ranges: [lo0, hi0, lo1, hi1, ...].
// The PCRE translator builds every single-character matcher (literal, `.`, `\d`, `[...]`)
// as one of these and prints it as an explicit JavaScript class, so that no JavaScript
// shorthand (whose meaning differs from PCRE's: `\s`, `\v`, case folding) is relied on.

export type CharSet = readonly number[]

const MAX = 0xffff

export function range(lo: number, hi: number): CharSet {
  return [lo, hi]
}

export function chars(...codes: number[]): CharSet {
  return normalize(codes.flatMap((c) => [c, c]))
}

/** Sorts and merges any list of [lo, hi] pairs. */
export function normalize(pairs: readonly number[]): CharSet {
  const list: Array<[number, number]> = []
  for (let i = 0; i + 1 < pairs.length; i += 2) list.push([pairs[i] as number, pairs[i + 1] as number])
  list.sort((a, b) => a[0] - b[0])
  const out: number[] = []
  for (const [lo, hi] of list) {
    const last = out.length - 1
    if (last > 0 && lo <= (out[last] as number) + 1) {
      out[last] = Math.max(out[last] as number, hi)
    } else {
      out.push(lo, hi)
    }
  }
  return out
}

export function union(...sets: CharSet[]): CharSet {
  return normalize(sets.flat())
}

export function complement(set: CharSet): CharSet {
  const out: number[] = []
  let next = 0
  for (let i = 0; i < set.length; i += 2) {
    const lo = set[i] as number
    const hi = set[i + 1] as number
    if (lo > next) out.push(next, lo - 1)
    next = hi + 1
  }
  if (next <= MAX) out.push(next, MAX)
  return out
}

/**
 * Adds the other case of every ASCII letter in the set. PCRE without UTF mode folds case
 * with its C-locale tables, so only A–Z and a–z have another case (é does not).
 */
export function caseClose(set: CharSet): CharSet {
  const extra: number[] = []
  for (let i = 0; i < set.length; i += 2) {
    const lo = set[i] as number
    const hi = set[i + 1] as number
    addShifted(extra, lo, hi, 0x41, 0x5a, 0x20)
    addShifted(extra, lo, hi, 0x61, 0x7a, -0x20)
  }
  return extra.length === 0 ? set : normalize([...set, ...extra])
}

function addShifted(out: number[], lo: number, hi: number, from: number, to: number, shift: number): void {
  const a = Math.max(lo, from)
  const b = Math.min(hi, to)
  if (a <= b) out.push(a + shift, b + shift)
}

function isSingle(set: CharSet): boolean {
  return set.length === 2 && set[0] === set[1]
}

function escapeUnit(c: number): string {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f) {
    return String.fromCharCode(c)
  }
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`
}

function classBody(set: CharSet): string {
  let body = ''
  for (let i = 0; i < set.length; i += 2) {
    const lo = set[i] as number
    const hi = set[i + 1] as number
    body += escapeUnit(lo)
    if (hi > lo) body += (hi > lo + 1 ? '-' : '') + escapeUnit(hi)
  }
  return body
}

/** JavaScript source matching exactly one code unit of the set (no flags needed). */
export function emitCharSet(set: CharSet): string {
  if (set.length === 0) return '[]'
  if (isSingle(set)) return escapeUnit(set[0] as number)
  const inverse = complement(set)
  if (inverse.length === 0) return '[\\s\\S]'
  if (isSingle(inverse) || inverse.length < set.length) return `[^${classBody(inverse)}]`
  return `[${classBody(set)}]`
}

// PCRE's shorthands and POSIX classes for 8-bit, non-UTF, non-UCP mode with the default
// C-locale tables: nothing above 0x7F belongs to them except \h (NBSP) and \v (NEL).
export const DIGIT = range(0x30, 0x39)
export const WORD = normalize([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a])
/** \s: since PCRE 8.34 / PCRE2 this includes VT (0x0B). */
export const SPACE = normalize([0x09, 0x0d, 0x20, 0x20])
/** \h: tab, space, and NBSP (the only horizontal space below 0x100). */
export const HSPACE = chars(0x09, 0x20, 0xa0)
/** \v: LF, VT, FF, CR and NEL (the only vertical space below 0x100). */
export const VSPACE = normalize([0x0a, 0x0d, 0x85, 0x85])
export const NEWLINE = chars(0x0a)
export const ANY = range(0, MAX)

export const POSIX_CLASSES: ReadonlyMap<string, CharSet> = new Map([
  ['alpha', normalize([0x41, 0x5a, 0x61, 0x7a])],
  ['lower', range(0x61, 0x7a)],
  ['upper', range(0x41, 0x5a)],
  ['alnum', normalize([0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a])],
  ['ascii', range(0x00, 0x7f)],
  ['blank', chars(0x09, 0x20)],
  ['cntrl', normalize([0x00, 0x1f, 0x7f, 0x7f])],
  ['digit', DIGIT],
  ['graph', range(0x21, 0x7e)],
  ['print', range(0x20, 0x7e)],
  ['punct', normalize([0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e])],
  ['space', SPACE],
  ['word', WORD],
  ['xdigit', normalize([0x30, 0x39, 0x41, 0x46, 0x61, 0x66])],
])
