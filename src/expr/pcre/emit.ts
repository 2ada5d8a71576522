// Prints the parsed pattern as JavaScript source that needs no flags.

import type { Node } from './ast.js'
import { emitCharSet } from './charset.js'

// `\R` is atomic in PCRE: once \r\n matched it is never split, hence the lookahead.
const NEWLINE_SEQUENCE = '(?:\\r\\n|(?!\\r\\n)[\\n-\\r\\x85])'

function quantifier(min: number, max: number, lazy: boolean): string {
  let q: string
  if (max === Infinity) q = min === 0 ? '*' : min === 1 ? '+' : `{${min},}`
  else if (min === 0 && max === 1) q = '?'
  else q = min === max ? `{${min}}` : `{${min},${max}}`
  return lazy ? `${q}?` : q
}

// Every node a quantifier can apply to prints as one JavaScript atom (a char, a class or a
// parenthesised group), so no extra grouping is needed.
export function emit(node: Node): string {
  switch (node.kind) {
    case 'seq':
      return node.items.map(emit).join('')
    case 'alt':
      return node.branches.map(emit).join('|')
    case 'group':
      return node.capture > 0 ? `(${emit(node.body)})` : `(?:${emit(node.body)})`
    case 'look':
      return `(?${node.behind ? '<' : ''}${node.negate ? '!' : '='}${emit(node.body)})`
    case 'repeat':
      return emit(node.body) + quantifier(node.min, node.max, node.lazy)
    case 'char':
      return emitCharSet(node.set)
    case 'assert':
      return node.source
    case 'newline':
      return NEWLINE_SEQUENCE
    case 'backref':
      return `(?:\\${node.group})`
  }
}
