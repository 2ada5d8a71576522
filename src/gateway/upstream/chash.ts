// Consistent hashing with weights (apisix-config.md §5.2): each node owns 160 ring points per
// gcd-reduced weight unit, a key goes to the first point at or after its hash, and a retry
// walks on to the next point of a node not yet tried. Adding or removing a node moves only
// the keys that node's points owned.
import { createHash } from 'node:crypto'
import type { UpstreamNode } from './model.js'

const POINTS_PER_UNIT = 160

export class ConsistentHash {
  readonly #points: Uint32Array
  readonly #owners: UpstreamNode[]

  constructor(nodes: readonly UpstreamNode[]) {
    const live = nodes.filter((n) => n.weight > 0)
    const used = live.length > 0 ? live : nodes
    const unit = used.reduce((g, n) => gcd(g, Math.max(1, n.weight)), 0) || 1
    const entries: { hash: number; node: UpstreamNode }[] = []
    for (const node of used) {
      const count = POINTS_PER_UNIT * Math.max(1, Math.round(Math.max(1, node.weight) / unit))
      for (let i = 0; i < count; i++) entries.push({ hash: hash32(`${node.authority}#${i}`), node })
    }
    // Ties broken by authority so the ring does not depend on the nodes' order.
    entries.sort((a, b) => a.hash - b.hash || (a.node.authority < b.node.authority ? -1 : 1))
    this.#points = Uint32Array.from(entries, (e) => e.hash)
    this.#owners = entries.map((e) => e.node)
  }

  pick(key: string, tried?: ReadonlySet<UpstreamNode>): UpstreamNode | undefined {
    const n = this.#points.length
    if (n === 0) return undefined
    const start = this.#lowerBound(hash32(key))
    for (let step = 0; step < n; step++) {
      const node = this.#owners[(start + step) % n]!
      if (tried === undefined || !tried.has(node)) return node
    }
    return undefined
  }

  #lowerBound(h: number): number {
    const points = this.#points
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (points[mid]! < h) lo = mid + 1
      else hi = mid
    }
    return lo === points.length ? 0 : lo
  }
}

function hash32(text: string): number {
  return createHash('md5').update(text).digest().readUInt32BE(0)
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}
