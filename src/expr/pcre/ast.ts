// The parsed form of a PCRE pattern: what the translator checks (fixed lengths, where
// back-references point) before it prints JavaScript source.

import type { CharSet } from './charset.js'

export type Node = Seq | Alt | Group | Look | Repeat | CharNode | Assert | NewlineSeq | Backref

export interface Seq {
  readonly kind: 'seq'
  readonly items: Node[]
}

export interface Alt {
  readonly kind: 'alt'
  readonly branches: Node[]
}

export interface Group {
  readonly kind: 'group'
  /** Capture number, or 0 for a non-capturing group. */
  readonly capture: number
  readonly body: Node
  /** Pattern offset just after the closing parenthesis. */
  readonly end: number
}

export interface Look {
  readonly kind: 'look'
  readonly behind: boolean
  readonly negate: boolean
  readonly body: Node
}

export interface Repeat {
  readonly kind: 'repeat'
  readonly min: number
  readonly max: number
  readonly lazy: boolean
  readonly body: Node
}

/** Any single-character matcher: a literal, `.`, `\d`, a class. */
export interface CharNode {
  readonly kind: 'char'
  readonly set: CharSet
}

/** A zero-width test, already in its JavaScript spelling. */
export interface Assert {
  readonly kind: 'assert'
  readonly source: string
}

/** `\R`. */
export interface NewlineSeq {
  readonly kind: 'newline'
}

export interface Backref {
  readonly kind: 'backref'
  /** A number, or a name resolved once the whole pattern has been read. */
  readonly target: number | string
  readonly offset: number
  readonly caseless: boolean
  /** The group number, filled in by the back-reference check. */
  group: number
}

export function children(node: Node): readonly Node[] {
  switch (node.kind) {
    case 'seq':
      return node.items
    case 'alt':
      return node.branches
    case 'group':
    case 'look':
    case 'repeat':
      return [node.body]
    default:
      return []
  }
}

/** The number of characters every match of `node` has, or null when it varies. */
export function fixedLength(node: Node): number | null {
  switch (node.kind) {
    case 'seq': {
      let total = 0
      for (const item of node.items) {
        const n = fixedLength(item)
        if (n === null) return null
        total += n
      }
      return total
    }
    case 'alt': {
      const lengths = node.branches.map(fixedLength)
      const first = lengths[0] ?? null
      return lengths.every((n) => n === first) ? first : null
    }
    case 'group':
      return fixedLength(node.body)
    case 'look':
    case 'assert':
      return 0
    case 'repeat': {
      const n = fixedLength(node.body)
      return n !== null && node.min === node.max ? n * node.min : null
    }
    case 'char':
      return 1
    case 'newline':
    case 'backref':
      return null
  }
}
