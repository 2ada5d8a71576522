// Smooth weighted round robin, nginx's algorithm (ngx_http_upstream_round_robin.c): every pick
// adds each node's weight to its running score, takes the highest, and takes the total back
// from the winner. Over any window of sum(weights) picks each node is chosen exactly its
// weight's times, spread out rather than in bursts.
import type { UpstreamNode } from './model.js'

export class RoundRobin {
  readonly #nodes: readonly UpstreamNode[]
  readonly #weights: number[]
  readonly #current: number[]

  constructor(nodes: readonly UpstreamNode[]) {
    this.#nodes = nodes
    // Weight-0 nodes are never picked, unless every weight is 0: then all count alike.
    const allZero = nodes.every((n) => n.weight <= 0)
    this.#weights = nodes.map((n) => (allZero ? 1 : Math.max(0, n.weight)))
    this.#current = nodes.map(() => 0)
  }

  /** The next node, skipping `tried` ones; undefined when none is left. */
  pick(tried?: ReadonlySet<UpstreamNode>): UpstreamNode | undefined {
    let best = -1
    let total = 0
    const weights = this.#weights
    const current = this.#current
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!
      if (w === 0 || (tried !== undefined && tried.has(this.#nodes[i]!))) continue
      current[i]! += w
      total += w
      if (best < 0 || current[i]! > current[best]!) best = i
    }
    if (best < 0) return undefined
    current[best]! -= total
    return this.#nodes[best]
  }
}
