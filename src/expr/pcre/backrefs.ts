// Back-references, resolved and vetted once the whole pattern is known.
//
// PCRE fails a back-reference to a group that has not taken part in the match; JavaScript
// matches the empty string instead. So a reference is accepted only when its group is sure
// to have matched before it in the same attempt: the group closes before the reference,
// and between the point where their paths meet and the group there is nothing that can
// skip it or drop its capture (an alternative, a quantifier, a lookbehind or negative
// lookaround). Caseless references are refused as JavaScript's would compare exactly.

import { type Backref, type Group, type Node, children } from './ast.js'
import { PcreError } from './scanner.js'

export interface Captures {
  readonly count: number
  readonly names: ReadonlyMap<string, number>
  readonly groups: ReadonlyMap<number, Group>
  readonly backrefs: readonly Backref[]
}

/** A construct that runs its body exactly once whenever it is reached. */
function alwaysRunsBody(node: Node): boolean {
  return node.kind === 'seq' || node.kind === 'group' || (node.kind === 'look' && !node.behind && !node.negate)
}

export function checkBackrefs(root: Node, captures: Captures): void {
  if (captures.backrefs.length === 0) return
  const groupPaths = new Map<number, Node[]>()
  const refPaths = new Map<Backref, Node[]>()
  const walk = (node: Node, path: Node[]): void => {
    if (node.kind === 'group' && node.capture > 0) groupPaths.set(node.capture, path)
    if (node.kind === 'backref') refPaths.set(node, path)
    const inner = [...path, node]
    for (const child of children(node)) walk(child, inner)
  }
  walk(root, [])

  for (const ref of captures.backrefs) {
    const number = typeof ref.target === 'number' ? ref.target : captures.names.get(ref.target)
    if (number === undefined) throw new PcreError(`reference to non-existent group '${ref.target}'`, ref.offset)
    if (number > captures.count) throw new PcreError('reference to non-existent subpattern', ref.offset)
    ref.group = number
    if (ref.caseless) throw new PcreError('back-references in caseless patterns are not supported', ref.offset)

    const group = captures.groups.get(number) as Group
    const groupPath = groupPaths.get(number) as Node[]
    const refPath = refPaths.get(ref) as Node[]
    let common = 0
    while (common < groupPath.length && groupPath[common] === refPath[common]) common++
    const meeting = groupPath[common - 1]
    const skippable = groupPath.slice(common).some((n) => !alwaysRunsBody(n))
    if (group.end > ref.offset || meeting?.kind === 'alt' || skippable) {
      throw new PcreError(
        `back-reference to group ${number} is not supported here: the group may not have taken part ` +
          'in the match, where PCRE fails and JavaScript would match the empty string',
        ref.offset,
      )
    }
  }
}
