// The cursor over a pattern, and the escapes that stand for one character, shared by the
// pattern parser and the character-class parser.

import {
  type CharSet,
  DIGIT,
  HSPACE,
  SPACE,
  VSPACE,
  WORD,
  complement,
} from './charset.js'

/** A pattern PCRE would reject, or one the translator cannot reproduce exactly. */
export class PcreError extends Error {
  /** Offset in the (byte) pattern where the problem was found. */
  readonly offset: number

  constructor(message: string, offset: number) {
    super(message)
    this.offset = offset
  }

  override get name(): string {
    return 'PcreError'
  }
}

export class Scanner {
  pos = 0

  constructor(readonly src: string) {}

  peek(ahead = 0): string | undefined {
    return this.src[this.pos + ahead]
  }

  fail(message: string, offset = this.pos): never {
    throw new PcreError(message, offset)
  }
}

/** `\d \D \w \W \s \S \h \H \v \V`, valid inside and outside classes. */
export const SHORTHANDS: ReadonlyMap<string, CharSet> = new Map([
  ['d', DIGIT],
  ['D', complement(DIGIT)],
  ['w', WORD],
  ['W', complement(WORD)],
  ['s', SPACE],
  ['S', complement(SPACE)],
  ['h', HSPACE],
  ['H', complement(HSPACE)],
  ['v', VSPACE],
  ['V', complement(VSPACE)],
])

const SIMPLE_ESCAPES: ReadonlyMap<string, number> = new Map([
  ['a', 0x07],
  ['e', 0x1b],
  ['f', 0x0c],
  ['n', 0x0a],
  ['r', 0x0d],
  ['t', 0x09],
])

export const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9'
export const isOctal = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '7'
const isAlnum = (c: string): boolean => /^[A-Za-z0-9]$/.test(c)
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c)

/** Reads up to `max` more octal digits after `value`; PCRE without UTF mode stops at \377. */
export function readOctal(s: Scanner, value: number, max: number, start: number): number {
  for (let n = 0; n < max && isOctal(s.peek()); n++) value = value * 8 + Number(s.src[s.pos++])
  if (value > 0xff) s.fail('octal value is greater than \\377 in 8-bit non-UTF mode', start)
  return value
}

/**
 * The code of a one-character escape whose letter `c` was just read (the backslash is at
 * `start`): `\a \e \f \n \r \t \0oo \cX \xhh \x{hh} \o{ooo}`, or a non-alphanumeric
 * character standing for itself. Any other letter is an error, as in PCRE2.
 */
export function readCharEscape(s: Scanner, c: string, start: number): number {
  const simple = SIMPLE_ESCAPES.get(c)
  if (simple !== undefined) return simple
  switch (c) {
    case '0':
      return readOctal(s, 0, 2, start)
    case 'c': {
      const x = s.peek()
      if (x === undefined) return s.fail('\\c at end of pattern', start)
      const code = x.charCodeAt(0)
      if (code < 0x20 || code > 0x7e) s.fail('\\c must be followed by a printable ASCII character', start)
      s.pos++
      return (code >= 0x61 && code <= 0x7a ? code - 0x20 : code) ^ 0x40
    }
    case 'x': {
      if (s.peek() === '{') return readBraced(s, /\{([0-9A-Fa-f]+)\}/y, 16, start)
      let value = 0
      for (let n = 0; n < 2 && isHex(s.peek()); n++) value = value * 16 + parseInt(s.src[s.pos++] as string, 16)
      return value
    }
    case 'o':
      if (s.peek() !== '{') s.fail('\\o must be followed by {octal digits}', start)
      return readBraced(s, /\{([0-7]+)\}/y, 8, start)
    default:
      if (isAlnum(c)) return s.fail(`unrecognized character follows \\: '${c}'`, start)
      return c.charCodeAt(0)
  }
}

function readBraced(s: Scanner, shape: RegExp, radix: number, start: number): number {
  shape.lastIndex = s.pos
  const m = shape.exec(s.src)
  if (m === null) return s.fail('malformed \\x{...} or \\o{...} escape', start)
  const value = parseInt(m[1] as string, radix)
  if (value > 0xff) s.fail('character code point value in \\x{} or \\o{} is too large', start)
  s.pos += m[0].length
  return value
}
