// PCRE → JavaScript translation. Every expected match below is what PCRE2 10.42 answers
// for the same pattern, options and subject; the translator was also cross-checked against
// it on ~400 000 generated pattern/subject pairs while it was written.
import t from 'tap'
import { PcreError, compilePcre, translatePcre } from '../../src/expr/pcre.js'

const sensitive = { caseless: false }
const caseless = { caseless: true }

t.test('translation table', async (t) => {
  const cases: Array<[string, boolean, string]> = [
    ['abc', false, 'abc'],
    ['abc', true, '[Aa][Bb][Cc]'],
    ['a-b', false, 'a\\x2db'],
    ['', false, '(?:)'],
    ['.', false, '[^\\x0a]'],
    ['(?s).', false, '[\\s\\S]'],
    ['\\N', false, '[^\\x0a]'],
    ['\\C', false, '[\\s\\S]'],
    ['\\d\\D', false, '[0-9][^0-9]'],
    ['\\w', false, '[0-9A-Z_a-z]'],
    ['\\s', false, '[\\x09-\\x0d\\x20]'],
    ['\\S', false, '[^\\x09-\\x0d\\x20]'],
    ['\\h', false, '[\\x09\\x20\\xa0]'],
    ['\\H', false, '[^\\x09\\x20\\xa0]'],
    ['\\v', false, '[\\x0a-\\x0d\\x85]'],
    ['\\V', false, '[^\\x0a-\\x0d\\x85]'],
    ['\\R', false, '(?:\\r\\n|(?!\\r\\n)[\\n-\\r\\x85])'],
    ['^a$', false, '^a(?=\\n?$)'],
    ['(?m)^a$', false, '(?:^|(?<=\\n)(?!$))a(?=\\n|$)'],
    ['\\Aa\\z', false, '^a$'],
    ['a\\Z', false, 'a(?=\\n?$)'],
    ['\\Ga', false, '^a'],
    ['\\ba\\B', false, '\\ba\\B'],
    ['a\\Kb', false, 'ab'],
    ['[[:alpha:]]', false, '[A-Za-z]'],
    ['[[:^digit:]]', false, '[^0-9]'],
    ['[[:lower:]]', false, '[a-z]'],
    ['[[:lower:]]', true, '[A-Za-z]'],
    ['[[:upper:][:digit:]_]', false, '[0-9A-Z_]'],
    ['[[:punct:]]', false, '[\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e]'],
    ['[a-c]', true, '[A-Ca-c]'],
    ['[^a]', true, '[^Aa]'],
    ['[]a]', false, '[\\x5da]'],
    ['[^]a]', false, '[^\\x5da]'],
    ['[a-]', false, '[\\x2da]'],
    ['[-a]', false, '[\\x2da]'],
    ['[a-c-e]', false, '[\\x2da-ce]'],
    ['[\\d-]', false, '[\\x2d0-9]'],
    ['[\\Q]-\\E]', false, '[\\x2d\\x5d]'],
    ['[\\b]', false, '\\x08'],
    ['[\\8]', false, '8'],
    ['\\Qa.b*\\E+', false, 'a\\x2eb\\x2a+'],
    ['\\x41\\x{42}\\103\\o{104}\\0105', false, 'ABCD\\x085'],
    ['\\x', false, '\\x00'],
    ['\\cA\\c[\\a\\e\\f\\n\\r\\t', false, '\\x01\\x1b\\x07\\x1b\\x0c\\x0a\\x0d\\x09'],
    ['\\/\\.', false, '\\x2f\\x2e'],
    ['(?i)ab', false, '[Aa][Bb]'],
    ['a(?i)b|c', false, 'a[Bb]|[Cc]'],
    ['(a(?i)b)c', false, '(a[Bb])c'],
    ['(?i:a)b', false, '(?:[Aa])b'],
    ['(?-i)a', true, 'a'],
    ['(?P<year>\\d{4})-(?<m>\\d\\d)', false, '([0-9]{4})\\x2d([0-9][0-9])'],
    ["(?'x'a)", false, '(a)'],
    ['(?:a|b)+?', false, '(?:a|b)+?'],
    ['a{2,}b{1,3}c{0,}d{4}', false, 'a{2,}b{1,3}c*d{4}'],
    ['(?U)a*b*?', false, 'a*?b*'],
    ['a(?#comment)*', false, 'a*'],
    ['(?<=ab|c)x(?<!d)', false, '(?<=ab|c)x(?<!d)'],
    ['(?=a)(?!b)', false, '(?=a)(?!b)'],
    ['(a)\\1', false, '(a)(?:\\1)'],
    ['(a)(b)\\g{-1}\\g1\\g{2}', false, '(a)(b)(?:\\2)(?:\\1)(?:\\2)'],
    ['(?<n>a)\\k<n>\\k{n}\\k\'n\'(?P=n)', false, '(a)(?:\\1)(?:\\1)(?:\\1)(?:\\1)'],
    ['(a)\\12', false, '(a)\\x0a'],
    ['a{x', false, 'a\\x7bx'],
    ['a}]', false, 'a\\x7d\\x5d'],
    ['\xc3\xa9', true, '\\xc3\\xa9'],
    ['[\xe9]', true, '\\xe9'],
  ]
  for (const [pattern, isCaseless, expected] of cases) {
    const label = `${JSON.stringify(pattern)}${isCaseless ? ' (i)' : ''}`
    t.equal(translatePcre(pattern, { caseless: isCaseless }), expected, label)
  }
})

t.test('matching as PCRE does', async (t) => {
  const cases: Array<[string, boolean, string, boolean]> = [
    // unanchored search
    ['b', false, 'abc', true],
    ['^b', false, 'abc', false],
    // $ and \Z also match before a final newline; \z does not
    ['c$', false, 'abc\n', true],
    ['c$', false, 'abc\n\n', false],
    ['c\\Z', false, 'abc\n', true],
    ['c\\z', false, 'abc\n', false],
    ['^$', false, '\n', true],
    // multiline ^ is not after a final newline
    ['(?m)^b', false, 'a\nb', true],
    ['(?m)^$', false, 'a\n', false],
    ['(?m)^$', false, 'a\n\nb', true],
    ['(?m)\\n^', false, 'a\n', false],
    ['(?m)a$', false, 'a\nb', true],
    // . excludes only \n (JavaScript's also excludes \r)
    ['a.b', false, 'a\rb', true],
    ['a.b', false, 'a\nb', false],
    ['(?s)a.b', false, 'a\nb', true],
    // \s is ASCII whitespace including VT; NBSP is not \s but is \h
    ['\\s', false, '\x0b', true],
    ['\\s', false, '\xa0', false],
    ['\\h', false, '\xa0', true],
    ['\\v', false, '\x85', true],
    ['\\v', false, '\x0b', true],
    ['\\w', false, '\xe9', false],
    // caseless folds ASCII only, in literals, classes and negated classes
    ['abc', true, 'xABCx', true],
    ['\xe9', true, '\xc9', false],
    ['[a-c]+$', true, 'AbC', true],
    ['[^a]', true, 'A', false],
    ['[[:upper:]]', true, 'q', true],
    ['[[:upper:]]', false, 'q', false],
    // \R is atomic: \r\n is never split to let \n match on its own
    ['\\R\\n', false, '\r\n', false],
    ['\\R\\n', false, '\r\n\n', true],
    ['^\\R$', false, '\r\n', true],
    // lookbehind, lookahead
    ['(?<=ab|c)d', false, 'abd', true],
    ['(?<=ab|c)d', false, 'bd', false],
    ['(?<!a)b', false, 'ab', false],
    ['q(?=u)', false, 'qu', true],
    ['q(?!u)', false, 'qu', false],
    // back-references
    ['(a|b)\\1', false, 'ab', false],
    ['(a|b)\\1', false, 'abb', true],
    ['^(\\w+) \\1$', false, 'foo foo', true],
    ['^(\\w+) \\1$', false, 'foo bar', false],
    ['(?=(a))\\1', false, 'a', true],
    // octal versus reference
    ['(a)\\12', false, 'a\n', true],
    ['\\101', false, 'A', true],
    // literal braces
    ['x{1', false, 'x{1', true],
    ['^{', false, '{', true],
    // \G is the start of the subject, \K only moves the match start
    ['\\Gb', false, 'ab', false],
    ['a\\Kb', false, 'ab', true],
    // \Q...\E
    ['\\Q.*\\E', false, 'a.*b', true],
    ['\\Q.*\\E', false, 'ab', false],
    // (?U) swaps greedy and lazy; both still find a match
    ['(?U)^a+$', false, 'aaa', true],
    // inline options end with their group
    ['(a(?i)b)c', false, 'aBc', true],
    ['(a(?i)b)c', false, 'aBC', false],
    ['a(?i)b|c', false, 'C', true],
    // bytes: a UTF-8 é is two chars C3 A9 in a latin1 subject
    ['^\xc3\xa9$', false, '\xc3\xa9', true],
    ['^.$', false, '\xc3\xa9', false],
  ]
  for (const [pattern, isCaseless, subject, expected] of cases) {
    const re = compilePcre(pattern, { caseless: isCaseless })
    const label = `${JSON.stringify(pattern)}${isCaseless ? ' (i)' : ''} ~ ${JSON.stringify(subject)}`
    t.equal(re.test(subject), expected, label)
  }
})

t.test('patterns PCRE rejects are rejected', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['(a', /^missing closing parenthesis$/],
    ['a)', /^unmatched closing parenthesis$/],
    ['[a', /^missing terminating \] for character class$/],
    ['[]', /^missing terminating \]/],
    ['*a', /^quantifier does not follow a repeatable item$/],
    ['a|+', /^quantifier does not follow a repeatable item$/],
    ['a**', /^quantifier does not follow a repeatable item$/],
    ['a{2}{3}', /^quantifier does not follow a repeatable item$/],
    ['(?i)*', /^quantifier does not follow a repeatable item$/],
    ['\\K+', /^quantifier does not follow a repeatable item$/],
    ['\\E*', /^quantifier does not follow a repeatable item$/],
    ['a{3,2}', /^numbers out of order in \{\} quantifier$/],
    ['a{65536}', /^number too big in \{\} quantifier$/],
    ['[z-a]', /^range out of order in character class$/],
    ['[a-\\d]', /^invalid range in character class$/],
    ['[\\d-z]', /^invalid range in character class$/],
    ['\\', /^\\ at end of pattern$/],
    ['\\c', /^\\c at end of pattern$/],
    ['\\y', /^unrecognized character follows \\: 'y'$/],
    ['\\L', /^unrecognized character follows \\/],
    ['\\x{100}', /too large/],
    ['\\o{400}', /too large/],
    ['\\400', /octal value is greater than \\377/],
    ['\\o', /\\o must be followed by/],
    ['[:alpha:]', /^POSIX named classes are supported only within a class$/],
    ['[[:foo:]]', /^unknown POSIX class name 'foo'$/],
    ['[[.a.]]', /^POSIX collating elements are not supported$/],
    ['(a)\\2', /^reference to non-existent subpattern$/],
    ['\\8', /^reference to non-existent subpattern$/],
    ['\\g{0}', /must not be zero/],
    ['\\g{-2}(a)', /^reference to non-existent subpattern$/],
    ['\\k<nope>', /^reference to non-existent group 'nope'$/],
    ['(?<n>a)(?<n>b)', /^two named groups have the same name 'n'$/],
    ['(?<1a>x)', /^invalid group name '1a'$/],
    ['(?<n>x', /^missing closing parenthesis$/],
    ['(?#comment', /^missing \) after \(\?# comment$/],
    ['(?<=a+)b', /^lookbehind assertion is not fixed length$/],
    ['(?<=a|bc?)d', /^lookbehind assertion is not fixed length$/],
    ['(?<=(a|bc))d', /^lookbehind assertion is not fixed length$/],
    ['(?<=\\R)a', /^lookbehind assertion is not fixed length$/],
    ['(?=a\\K)', /^\\K is not allowed in lookarounds$/],
    ['(?Q)', /^unrecognized character after \(\? or \(\?-$/],
    ['\\N{NAME}', /^\\N\{name\} is not supported$/],
    ['^*', /^quantifier does not follow a repeatable item$/],
    ['\\b+', /^quantifier does not follow a repeatable item$/],
  ]
  for (const [pattern, message] of cases) {
    t.throws(() => translatePcre(pattern, sensitive), { name: 'PcreError', message }, JSON.stringify(pattern))
  }
})

t.test('constructs without an exact JavaScript equivalent are rejected', async (t) => {
  const cases: Array<[string, boolean, RegExp]> = [
    ['a*+', false, /^possessive quantifiers are not supported$/],
    ['a{1,2}+', false, /^possessive quantifiers are not supported$/],
    ['(?>a)', false, /^atomic groups/],
    ['(?|(a)|(b))', false, /^branch reset groups/],
    ['(a)(?1)', false, /^recursion and subroutine calls are not supported$/],
    ['(?R)', false, /^recursion/],
    ['(?-1)', false, /^recursion/],
    ['(?+1)(a)', false, /^recursion/],
    ['(?&n)', false, /^recursion/],
    ['(?<n>a)(?P>n)', false, /^subroutine calls/],
    ['(a)\\g<1>', false, /^subroutine calls/],
    ["(a)\\g'1'", false, /^subroutine calls/],
    ['(?(1)a|b)', false, /^conditional groups/],
    ['(?C1)', false, /^callouts/],
    ['(*FAIL)', false, /^backtracking verbs/],
    ['(*UTF)a', false, /^backtracking verbs/],
    ['(?x) a', false, /^the \(\?x\) option is not supported$/],
    ['(?J)', false, /^the \(\?J\) option is not supported$/],
    ['\\p{L}', false, /is not supported/],
    ['\\PL', false, /is not supported/],
    ['\\X', false, /is not supported/],
    ['[\\p{L}]', false, /is not supported/],
    ['a{,3}', false, /read differently by PCRE versions/],
    ['a{1, 3}', false, /read differently by PCRE versions/],
    ['(?=a)*', false, /^a quantifier on a lookaround is not supported$/],
    ['(?<!a){2}', false, /^a quantifier on a lookaround is not supported$/],
    ['a\0b', false, /^a NUL character in a pattern is not supported$/],
    ['(?*a)', false, /non-atomic assertions/],
    // back-references that may see a group that did not take part
    ['(a)?\\1', false, /^back-reference to group 1 is not supported here/],
    ['(a)*\\1', false, /^back-reference to group 1 is not supported here/],
    ['(?:(a)|b)\\1', false, /^back-reference to group 1 is not supported here/],
    ['(a)|\\1', false, /^back-reference to group 1 is not supported here/],
    ['\\1(a)', false, /^back-reference to group 1 is not supported here/],
    ['(a\\1)', false, /^back-reference to group 1 is not supported here/],
    ['(?!(a))\\1', false, /^back-reference to group 1 is not supported here/],
    ['(?<=(a))\\1', false, /^back-reference to group 1 is not supported here/],
    ['(a)(?<=\\1)', false, /^a back-reference inside a lookbehind is not supported$/],
    ['(a)\\1', true, /^back-references in caseless patterns are not supported$/],
    ['(?i)(a)\\1', false, /^back-references in caseless patterns are not supported$/],
  ]
  for (const [pattern, isCaseless, message] of cases) {
    t.throws(() => translatePcre(pattern, isCaseless ? caseless : sensitive), { message }, JSON.stringify(pattern))
  }
})

t.test('errors carry the offset', async (t) => {
  const err = t.throws(() => translatePcre('ab(?>c)', sensitive)) as PcreError
  t.ok(err instanceof PcreError)
  t.equal(err.offset, 2)
})
