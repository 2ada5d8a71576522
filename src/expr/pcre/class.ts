// Character classes `[...]`: members, ranges, shorthands, POSIX classes and `\Q...\E`,
// folded into one explicit set. Case folding applies to the listed characters and ranges
// before a `^` negates the whole, as PCRE does.

import { type CharSet, POSIX_CLASSES, caseClose, complement, normalize, union } from './charset.js'
import { type Scanner, SHORTHANDS, readCharEscape, readOctal } from './scanner.js'

type Token = { kind: 'end' } | { kind: 'set'; set: CharSet } | { kind: 'char'; code: number; dash: boolean }

interface State {
  readonly pos: number
  readonly quoted: boolean
}

/**
 * PCRE's test for `[:name:]` (or `[.x.]`, `[=x=]`) with its `[` at `at`: the offset of the
 * closing `:`, or -1 when the text is not in that shape (and so is plain members).
 */
export function posixEnd(src: string, at: number): number {
  const t = src[at + 1]
  for (let i = at + 2; i < src.length; i++) {
    const c = src[i]
    if (c === '\\' && (src[i + 1] === ']' || src[i + 1] === '\\')) i++
    else if ((c === '[' && src[i + 1] === t) || c === ']') return -1
    else if (c === t && src[i + 1] === ']') return i
  }
  return -1
}

/** Reads members one at a time, tracking `\Q...\E` so that ranges can look ahead. */
class ClassReader {
  private quoted = false

  constructor(
    private readonly s: Scanner,
    private readonly open: number,
    private readonly caseless: boolean,
  ) {}

  save(): State {
    return { pos: this.s.pos, quoted: this.quoted }
  }

  restore(state: State): void {
    this.s.pos = state.pos
    this.quoted = state.quoted
  }

  /** True when an unquoted `-` that is not the last member follows, so a range would start. */
  startsRange(): boolean {
    const state = this.save()
    const dash = this.next(false)
    const result = dash.kind === 'char' && dash.dash && this.next(false).kind !== 'end'
    this.restore(state)
    return result
  }

  next(first: boolean): Token {
    const { s } = this
    for (;;) {
      const c = s.peek()
      if (c === undefined) return s.fail('missing terminating ] for character class', this.open)
      if (this.quoted) {
        if (c === '\\' && s.peek(1) === 'E') {
          this.quoted = false
          s.pos += 2
          continue
        }
        s.pos++
        return { kind: 'char', code: c.charCodeAt(0), dash: false }
      }
      if (c === ']' && !first) {
        s.pos++
        return { kind: 'end' }
      }
      if (c === '\\') {
        const e = s.peek(1)
        if (e === 'Q' || e === 'E') {
          this.quoted = e === 'Q'
          s.pos += 2
          continue
        }
        return this.escape()
      }
      if (c === '[') {
        const t = s.peek(1)
        const end = t === ':' || t === '.' || t === '=' ? posixEnd(s.src, s.pos) : -1
        if (end >= 0) return { kind: 'set', set: this.posix(end) }
      }
      s.pos++
      return { kind: 'char', code: c.charCodeAt(0), dash: c === '-' }
    }
  }

  private posix(end: number): CharSet {
    const { s } = this
    const start = s.pos
    if (s.peek(1) !== ':') s.fail('POSIX collating elements are not supported', start)
    let name = s.src.slice(start + 2, end)
    const negate = name.startsWith('^')
    if (negate) name = name.slice(1)
    // PCRE: caseless [:lower:] and [:upper:] are [:alpha:].
    if (this.caseless && (name === 'lower' || name === 'upper')) name = 'alpha'
    const set = POSIX_CLASSES.get(name)
    if (set === undefined) return s.fail(`unknown POSIX class name '${name}'`, start)
    s.pos = end + 2
    return negate ? complement(set) : set
  }

  private escape(): Token {
    const { s } = this
    const start = s.pos
    s.pos++
    const c = s.peek()
    if (c === undefined) return s.fail('\\ at end of pattern', start)
    s.pos++
    const shorthand = SHORTHANDS.get(c)
    if (shorthand !== undefined) return { kind: 'set', set: shorthand }
    if (c === 'b') return { kind: 'char', code: 0x08, dash: false }
    if (c === 'p' || c === 'P' || c === 'X') return s.fail(`\\${c} (Unicode properties) is not supported`, start)
    if ('NRBAzZGKgk'.includes(c)) return s.fail(`escape sequence \\${c} is invalid in a character class`, start)
    // In a class, digits are always octal; \8 and \9 are the digits themselves.
    if (c === '8' || c === '9') return { kind: 'char', code: c.charCodeAt(0), dash: false }
    if (c >= '1' && c <= '7') return { kind: 'char', code: readOctal(s, Number(c), 2, start), dash: false }
    return { kind: 'char', code: readCharEscape(s, c, start), dash: false }
  }
}

/** Parses the class whose `[` is at the cursor into the set of characters it matches. */
export function parseClass(s: Scanner, caseless: boolean): CharSet {
  const open = s.pos
  s.pos++
  const t = s.peek()
  if ((t === ':' || t === '.' || t === '=') && posixEnd(s.src, open) >= 0) {
    s.fail('POSIX named classes are supported only within a class', open)
  }
  let negate = false
  if (s.peek() === '^') {
    negate = true
    s.pos++
  }
  const reader = new ClassReader(s, open, caseless)
  const listed: number[] = []
  const sets: CharSet[] = []
  // A `]` right after `[` or `[^` is a member, not the end.
  let first = true
  for (;;) {
    const token = reader.next(first)
    first = false
    if (token.kind === 'end') break
    if (token.kind === 'set') {
      if (reader.startsRange()) s.fail('invalid range in character class')
      sets.push(token.set)
      continue
    }
    const beforeDash = reader.save()
    const dash = reader.next(false)
    if (dash.kind === 'char' && dash.dash) {
      const afterDash = reader.save()
      const to = reader.next(false)
      if (to.kind === 'end') {
        // A trailing `-` is a member; leave the `]` to end the loop.
        reader.restore(afterDash)
        listed.push(token.code, token.code, 0x2d, 0x2d)
      } else if (to.kind === 'char') {
        if (to.code < token.code) s.fail('range out of order in character class')
        listed.push(token.code, to.code)
      } else {
        s.fail('invalid range in character class')
      }
      continue
    }
    reader.restore(beforeDash)
    listed.push(token.code, token.code)
  }
  let set = normalize(listed)
  if (caseless) set = caseClose(set)
  set = union(set, ...sets)
  return negate ? complement(set) : set
}
