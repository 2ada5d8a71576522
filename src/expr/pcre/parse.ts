// The pattern grammar: alternatives, sequences, quantifiers, escapes, groups and inline
// options. Options (i, m, s, U) are applied while parsing, scoped as PCRE scopes them: to
// the rest of the enclosing group, alternatives included.

import { ANY, NEWLINE, caseClose, chars, complement } from './charset.js'
import type { Backref, CharNode, Group, Node, Seq } from './ast.js'
import { fixedLength } from './ast.js'
import { checkBackrefs } from './backrefs.js'
import { parseClass } from './class.js'
import { PcreError, SHORTHANDS, Scanner, isDigit, readCharEscape, readOctal } from './scanner.js'

interface Flags {
  readonly i: boolean
  readonly m: boolean
  readonly s: boolean
  readonly U: boolean
}

/**
 * What the last item left for a quantifier that may follow: PCRE repeats atoms and groups,
 * and lookarounds too (which we refuse); `none` is what it cannot repeat (simple assertions,
 * option settings, `\K`); comments and `\E` are transparent.
 */
type Item = 'repeatable' | 'lookaround' | 'none' | 'transparent'

type GroupKind =
  | { readonly kind: 'capture'; readonly name?: string }
  | { readonly kind: 'plain' }
  | { readonly kind: 'look'; readonly behind: boolean; readonly negate: boolean }

const MAX_REPEAT = 65535
const NOT_NEWLINE = complement(NEWLINE)
const END_OR_FINAL_NEWLINE = '(?=\\n?$)'
const GROUP_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const STRICT_QUANTIFIER = /\{(\d+)(?:(,)(\d*))?\}/y
// PCRE2 10.43 also reads these as quantifiers; older PCRE reads them as literal text.
const LOOSE_QUANTIFIER = /\{[ \t]*\d*[ \t]*(?:,[ \t]*\d*[ \t]*)?\}/y

class Parser extends Scanner {
  private flags: Flags
  private captures = 0
  private lookarounds = 0
  private lookbehinds = 0
  private readonly names = new Map<string, number>()
  private readonly groups = new Map<number, Group>()
  private readonly backrefs: Backref[] = []

  constructor(src: string, caseless: boolean) {
    super(src)
    this.flags = { i: caseless, m: false, s: false, U: false }
  }

  parse(): Node {
    // PCRE1 reads the pattern as a C string (cut at the NUL), PCRE2 does not: refuse it.
    const nul = this.src.indexOf('\0')
    if (nul >= 0) this.fail('a NUL character in a pattern is not supported', nul)
    const root = this.parseAlternation()
    if (this.pos < this.src.length) this.fail('unmatched closing parenthesis')
    checkBackrefs(root, { count: this.captures, names: this.names, groups: this.groups, backrefs: this.backrefs })
    return root
  }

  private parseAlternation(): Node {
    const branches: Node[] = [this.parseSequence()]
    while (this.peek() === '|') {
      this.pos++
      branches.push(this.parseSequence())
    }
    return branches.length === 1 ? (branches[0] as Node) : { kind: 'alt', branches }
  }

  private parseSequence(): Seq {
    const items: Node[] = []
    let last: Item = 'none'
    for (;;) {
      const c = this.peek()
      if (c === undefined || c === '|' || c === ')') break
      const start = this.pos
      const q = this.readQuantifier()
      if (q === undefined) {
        const item = this.parseItem(items)
        if (item !== 'transparent') last = item
        continue
      }
      if (last === 'lookaround') this.fail('a quantifier on a lookaround is not supported', start)
      if (last !== 'repeatable') this.fail('quantifier does not follow a repeatable item', start)
      let lazy = false
      if (this.peek() === '?') {
        this.pos++
        lazy = true
      } else if (this.peek() === '+') {
        this.fail('possessive quantifiers are not supported', start)
      }
      const body = items.pop() as Node
      items.push({ kind: 'repeat', min: q.min, max: q.max, lazy: lazy !== this.flags.U, body })
      last = 'none'
    }
    return { kind: 'seq', items }
  }

  private atQuantifier(): boolean {
    STRICT_QUANTIFIER.lastIndex = this.pos
    return STRICT_QUANTIFIER.test(this.src)
  }

  /** Reads `* + ? {n} {n,} {n,m}` at the cursor; a `{` that starts none of them is literal. */
  private readQuantifier(): { min: number; max: number } | undefined {
    const c = this.peek()
    if (c === '*' || c === '+' || c === '?') {
      this.pos++
      return c === '*' ? { min: 0, max: Infinity } : c === '+' ? { min: 1, max: Infinity } : { min: 0, max: 1 }
    }
    if (c !== '{') return undefined
    STRICT_QUANTIFIER.lastIndex = this.pos
    const m = STRICT_QUANTIFIER.exec(this.src)
    if (m === null) {
      LOOSE_QUANTIFIER.lastIndex = this.pos
      const loose = LOOSE_QUANTIFIER.exec(this.src)
      if (loose !== null && /\d/.test(loose[0])) {
        const text = loose[0]
        this.fail(`'${text}' is read differently by PCRE versions; write {n,m} without spaces, or escape the brace`)
      }
      return undefined
    }
    const min = Number(m[1])
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])
    if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) this.fail('number too big in {} quantifier')
    if (max < min) this.fail('numbers out of order in {} quantifier')
    this.pos += m[0].length
    return { min, max }
  }

  private literal(code: number): CharNode {
    const set = chars(code)
    return { kind: 'char', set: this.flags.i ? caseClose(set) : set }
  }

  private parseItem(items: Node[]): Item {
    const c = this.peek() as string
    switch (c) {
      case '(':
        return this.parseGroup(items)
      case '[':
        items.push({ kind: 'char', set: parseClass(this, this.flags.i) })
        return 'repeatable'
      case '.':
        this.pos++
        items.push({ kind: 'char', set: this.flags.s ? ANY : NOT_NEWLINE })
        return 'repeatable'
      case '^':
        this.pos++
        // Multiline: at the start, or after a newline that does not end the subject.
        items.push({ kind: 'assert', source: this.flags.m ? '(?:^|(?<=\\n)(?!$))' : '^' })
        return 'none'
      case '$':
        this.pos++
        items.push({ kind: 'assert', source: this.flags.m ? '(?=\\n|$)' : END_OR_FINAL_NEWLINE })
        return 'none'
      case '\\':
        return this.parseEscape(items)
      default:
        this.pos++
        items.push(this.literal(c.charCodeAt(0)))
        return 'repeatable'
    }
  }

  private parseEscape(items: Node[]): Item {
    const start = this.pos
    this.pos++
    const c = this.peek()
    if (c === undefined) return this.fail('\\ at end of pattern', start)
    this.pos++
    const shorthand = SHORTHANDS.get(c)
    if (shorthand !== undefined) {
      items.push({ kind: 'char', set: shorthand })
      return 'repeatable'
    }
    switch (c) {
      case 'N':
        if (this.peek() === '{' && !this.atQuantifier()) this.fail('\\N{name} is not supported', start)
        items.push({ kind: 'char', set: NOT_NEWLINE })
        return 'repeatable'
      case 'C':
        items.push({ kind: 'char', set: ANY })
        return 'repeatable'
      case 'R':
        items.push({ kind: 'newline' })
        return 'repeatable'
      case 'X':
      case 'p':
      case 'P':
        return this.fail(`\\${c} (Unicode properties and grapheme clusters) is not supported`, start)
      case 'b':
      case 'B':
        items.push({ kind: 'assert', source: `\\${c}` })
        return 'none'
      case 'A':
      case 'G': // the start offset, which is always 0 for ngx.re.find here
        items.push({ kind: 'assert', source: '^' })
        return 'none'
      case 'z':
        items.push({ kind: 'assert', source: '$' })
        return 'none'
      case 'Z':
        items.push({ kind: 'assert', source: END_OR_FINAL_NEWLINE })
        return 'none'
      case 'K':
        // Only moves the reported start of the match, which a find that returns a boolean ignores.
        if (this.lookarounds > 0) this.fail('\\K is not allowed in lookarounds', start)
        return 'none'
      case 'E':
        return 'transparent'
      case 'Q': {
        const close = this.src.indexOf('\\E', this.pos)
        const end = close < 0 ? this.src.length : close
        const text = this.src.slice(this.pos, end)
        this.pos = close < 0 ? end : end + 2
        for (let i = 0; i < text.length; i++) items.push(this.literal(text.charCodeAt(i)))
        return text.length > 0 ? 'repeatable' : 'transparent'
      }
      case 'g':
        return this.parseGReference(items, start)
      case 'k':
        return this.parseKReference(items, start)
      default:
        break
    }
    if (c >= '1' && c <= '9') return this.parseDigitsEscape(items, start)
    items.push(this.literal(readCharEscape(this, c, start)))
    return 'repeatable'
  }

  /**
   * `\1`…`\9` are references; a longer number is one only if that many groups opened
   * already (or it starts with 8 or 9), else it is up to three octal digits.
   */
  private parseDigitsEscape(items: Node[], start: number): Item {
    const first = this.pos - 1
    let end = first
    while (isDigit(this.src[end])) end++
    const text = this.src.slice(first, end)
    const n = Number(text)
    if (n < 10 || n <= this.captures || text[0] === '8' || text[0] === '9') {
      this.pos = end
      return this.pushBackref(items, n, start)
    }
    this.pos = first
    items.push(this.literal(readOctal(this, 0, 3, start)))
    return 'repeatable'
  }

  private parseGReference(items: Node[], start: number): Item {
    const c = this.peek()
    if (c === '<' || c === "'") return this.fail('subroutine calls (\\g<...>) are not supported', start)
    let text: string
    if (c === '{') {
      const close = this.src.indexOf('}', this.pos)
      if (close < 0) return this.fail('\\g{ is not terminated', start)
      text = this.src.slice(this.pos + 1, close)
      this.pos = close + 1
    } else {
      const m = /^[+-]?\d+/.exec(this.src.slice(this.pos))
      if (m === null) return this.fail('\\g is not followed by a number or a braced name', start)
      text = m[0]
      this.pos += text.length
    }
    if (/^-\d+$/.test(text)) {
      const n = this.captures + 1 + Number(text)
      if (Number(text) === 0 || n <= 0) this.fail('reference to non-existent subpattern', start)
      return this.pushBackref(items, n, start)
    }
    if (/^\d+$/.test(text)) {
      if (Number(text) === 0) this.fail('a numbered reference must not be zero', start)
      return this.pushBackref(items, Number(text), start)
    }
    if (GROUP_NAME.test(text)) return this.pushBackref(items, text, start)
    return this.fail('\\g is not followed by a number or a braced name', start)
  }

  private parseKReference(items: Node[], start: number): Item {
    const open = this.peek()
    const close = open === '<' ? '>' : open === "'" ? "'" : open === '{' ? '}' : undefined
    if (close === undefined) return this.fail('\\k is not followed by a name in <>, {} or quotes', start)
    return this.pushBackref(items, this.readName(close, start), start)
  }

  /** Reads a group name after the opening delimiter at the cursor, through `close`. */
  private readName(close: string, start: number): string {
    const end = this.src.indexOf(close, this.pos + 1)
    if (end < 0) this.fail('group name is not terminated', start)
    const name = this.src.slice(this.pos + 1, end)
    if (!GROUP_NAME.test(name)) this.fail(`invalid group name '${name}'`, start)
    if (name.length > 32) this.fail('group name is too long (maximum 32 characters)', start)
    this.pos = end + 1
    return name
  }

  private pushBackref(items: Node[], target: number | string, offset: number): Item {
    // JavaScript matches a lookbehind right to left, so a reference there sees other captures.
    if (this.lookbehinds > 0) this.fail('a back-reference inside a lookbehind is not supported', offset)
    const ref: Backref = { kind: 'backref', target, offset, caseless: this.flags.i, group: 0 }
    this.backrefs.push(ref)
    items.push(ref)
    return 'repeatable'
  }

  private parseGroup(items: Node[]): Item {
    const open = this.pos
    this.pos++
    if (this.peek() === '*') return this.fail('backtracking verbs and (*...) options are not supported', open)
    if (this.peek() !== '?') return this.parseGroupBody(items, open, { kind: 'capture' })
    this.pos++
    const c = this.peek()
    switch (c) {
      case ':':
        this.pos++
        return this.parseGroupBody(items, open, { kind: 'plain' })
      case '=':
      case '!':
        this.pos++
        return this.parseGroupBody(items, open, { kind: 'look', behind: false, negate: c === '!' })
      case '<': {
        const next = this.peek(1)
        if (next === '=' || next === '!') {
          this.pos += 2
          return this.parseGroupBody(items, open, { kind: 'look', behind: true, negate: next === '!' })
        }
        if (next === '*') return this.fail('non-atomic assertions are not supported', open)
        return this.parseGroupBody(items, open, { kind: 'capture', name: this.readName('>', open) })
      }
      case "'":
        return this.parseGroupBody(items, open, { kind: 'capture', name: this.readName("'", open) })
      case 'P': {
        this.pos++
        const next = this.peek()
        if (next === '<') return this.parseGroupBody(items, open, { kind: 'capture', name: this.readName('>', open) })
        if (next === '=') return this.pushBackref(items, this.readName(')', open), open)
        if (next === '>') return this.fail('subroutine calls ((?P>name)) are not supported', open)
        return this.fail('unrecognized character after (?P', open)
      }
      case '>':
        return this.fail('atomic groups (?>...) are not supported', open)
      case '|':
        return this.fail('branch reset groups (?|...) are not supported', open)
      case '(':
        return this.fail('conditional groups (?(...)...) are not supported', open)
      case 'C':
        return this.fail('callouts (?C...) are not supported', open)
      case '*':
        return this.fail('non-atomic assertions are not supported', open)
      case '#': {
        const close = this.src.indexOf(')', this.pos)
        if (close < 0) this.fail('missing ) after (?# comment', open)
        this.pos = close + 1
        return 'transparent'
      }
      default:
        break
    }
    if (c === 'R' || c === '&' || c === '+' || isDigit(c) || (c === '-' && isDigit(this.peek(1)))) {
      return this.fail('recursion and subroutine calls are not supported', open)
    }
    return this.parseOptions(items, open)
  }

  /** `(?imsU-imsU)` sets options for the rest of the enclosing group; `(?i:...)` for its body only. */
  private parseOptions(items: Node[], open: number): Item {
    let flags: Flags = this.flags
    let on = true
    for (;;) {
      const c = this.peek()
      if (c === undefined) return this.fail('missing closing parenthesis', open)
      this.pos++
      if (c === ')') {
        this.flags = flags
        return 'none'
      }
      if (c === ':') {
        const outer = this.flags
        this.flags = flags
        const item = this.parseGroupBody(items, open, { kind: 'plain' })
        this.flags = outer
        return item
      }
      if (c === '-' && on) {
        on = false
      } else if (c === 'i' || c === 'm' || c === 's' || c === 'U') {
        flags = { ...flags, [c]: on }
      } else if ('xJXn^ar'.includes(c)) {
        return this.fail(`the (?${c}) option is not supported`, open)
      } else {
        return this.fail('unrecognized character after (? or (?-', open)
      }
    }
  }

  private parseGroupBody(items: Node[], open: number, kind: GroupKind): Item {
    let capture = 0
    if (kind.kind === 'capture') {
      capture = ++this.captures
      if (kind.name !== undefined) {
        if (this.names.has(kind.name)) this.fail(`two named groups have the same name '${kind.name}'`, open)
        this.names.set(kind.name, capture)
      }
    }
    const look = kind.kind === 'look' ? 1 : 0
    const behind = kind.kind === 'look' && kind.behind ? 1 : 0
    this.lookarounds += look
    this.lookbehinds += behind
    const outer = this.flags
    const body = this.parseAlternation()
    this.flags = outer
    this.lookarounds -= look
    this.lookbehinds -= behind
    if (this.peek() !== ')') this.fail('missing closing parenthesis', open)
    this.pos++
    if (kind.kind === 'look') {
      if (kind.behind) checkLookbehind(body, open)
      items.push({ kind: 'look', behind: kind.behind, negate: kind.negate, body })
      return 'lookaround'
    }
    const group: Group = { kind: 'group', capture, body, end: this.pos }
    if (capture > 0) this.groups.set(capture, group)
    items.push(group)
    return 'repeatable'
  }
}

/** PCRE requires each top-level branch of a lookbehind to have a fixed length (they may differ). */
function checkLookbehind(body: Node, open: number): void {
  const branches = body.kind === 'alt' ? body.branches : [body]
  if (branches.some((b) => fixedLength(b) === null)) {
    throw new PcreError('lookbehind assertion is not fixed length', open)
  }
}

/** Parses a PCRE pattern (a byte string) into its tree, or throws PcreError. */
export function parsePattern(pattern: string, caseless: boolean): Node {
  return new Parser(pattern, caseless).parse()
}
