// PCRE → JavaScript RegExp, for the `~~` / `~*` operators: OpenResty's `ngx.re.find` with
// options "jo" / "ijo", i.e. an unanchored search, no UTF mode, newline LF.
//
// The pattern is parsed once and printed as JavaScript source that needs no flags, so that
// nothing depends on a JavaScript flag whose meaning differs from PCRE's (`i` folds é, `s`
// and `m` know \r and U+2028). Patterns and subjects are byte strings, one char per byte,
// as PCRE without UTF mode sees them.
//
// PCRE                                JavaScript emitted                note
// ----------------------------------  --------------------------------  ----------------------------------
// literal, \Q…\E                      the char, or \xHH                 \Q…\E also inside classes
// caseless (~*, (?i))                 [Aa]; classes get the other case  C locale: ASCII letters only
// .                                   [^\n]; with (?s) [\s\S]
// \N  \C                              [^\n]  [\s\S]
// \d \w \D \W                         explicit ASCII classes            no UCP: ASCII only
// \s \S                               [\t-\r ] and its complement       VT included (PCRE ≥ 8.34, PCRE2)
// \h \H                               [\t \xa0] and its complement
// \v \V                               [\n-\r\x85] and its complement    JS \v is VT: never emitted
// \R                                  (?:\r\n|(?!\r\n)[\n-\r\x85])      the lookahead keeps it atomic
// ^  \A  \G                           ^                                 \G: the start offset, always 0
// $  \Z                               (?=\n?$)                          also before a final newline
// \z                                  $
// (?m)^  (?m)$                        (?:^|(?<=\n)(?!$))  (?=\n|$)      ^ not after a final newline
// \b \B                               \b \B                             same ASCII word characters
// \K                                  (nothing)                         only moves the reported start
// […] [^…] []…] [a-]                  explicit class                    ranges checked; ] first is literal
// [[:alpha:]] [[:^digit:]] …          explicit class                    caseless lower/upper = alpha
// \xhh \x{hh} \o{ooo} \0oo \ooo \cX   \xHH                              above \xff rejected
// \a \e \f \n \r \t, \ + punctuation  \xHH
// ( )  (?<n> )  (?'n' )  (?P<n> )     ( )                               names resolved, numbers kept
// (?: )  (?= )  (?! )                 the same
// (?<= )  (?<! )                      the same                          each branch must be fixed-length
// (?# )                               (nothing)
// (?imsU-imsU)  (?i: )                applied while translating         anywhere, scoped as in PCRE
// * + ? {n} {n,} {n,m}, lazy ?        the same                          (?U) swaps greedy and lazy
// \1 \g1 \g{-1} \k<n> \k{n} (?P=n)    (?:\1)                            where the group surely took part
//
// Rejected, because JavaScript has no exact equivalent or PCRE versions disagree:
// possessive quantifiers, atomic groups (?>, branch reset (?|, recursion and subroutine
// calls ((?R) (?1) (?&n) (?P>n) \g<n>), conditionals (?(, callouts (?C, verbs and start
// options (*…), options other than i m s U (notably x), \p \P \X, quantified lookarounds,
// {,n} and {n, m} (quantifiers in PCRE2 ≥ 10.43, literal text before), a NUL in the pattern,
// and back-references that may see a group that did not take part in the match (PCRE then
// fails where JavaScript matches the empty string: see pcre/backrefs.ts), or that are
// caseless or inside a lookbehind. Everything PCRE itself rejects is rejected too.

import { emit } from './pcre/emit.js'
import { parsePattern } from './pcre/parse.js'
import { PcreError } from './pcre/scanner.js'

export { PcreError }

export interface PcreOptions {
  /** The `i` option (`~*`). */
  readonly caseless: boolean
}

/** The JavaScript source (for `new RegExp(source)`, no flags) equivalent to a PCRE pattern. */
export function translatePcre(pattern: string, options: PcreOptions): string {
  const source = emit(parsePattern(pattern, options.caseless))
  return source === '' ? '(?:)' : source
}

/** Translates and compiles once; `test()` on the result is PCRE's unanchored find. */
export function compilePcre(pattern: string, options: PcreOptions): RegExp {
  const source = translatePcre(pattern, options)
  try {
    return new RegExp(source)
  } catch (err) {
    throw new PcreError(`internal translation error: ${(err as Error).message}`, 0)
  }
}
