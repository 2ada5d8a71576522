// One configured upstream: its nodes grouped by priority, a balancer per group, and the
// keep-alive connection pools (one undici Agent, a pool per node) that live as long as the
// upstream is configured. `close()` when the config that held it is replaced.
import { Agent } from 'undici'
import { ConsistentHash } from './chash.js'
import { upstreamModel, type UpstreamConf, type UpstreamModel, type UpstreamNode } from './model.js'
import { RoundRobin } from './roundrobin.js'

interface Balancer {
  pick(key: string, tried?: ReadonlySet<UpstreamNode>): UpstreamNode | undefined
}

type UpstreamState = 'open' | 'closed'

export class Upstream {
  readonly model: UpstreamModel
  readonly dispatcher: Agent
  /** Highest priority first; a lower group is reached only when every higher node was tried. */
  readonly #groups: { readonly nodes: readonly UpstreamNode[]; readonly balancer: Balancer }[]
  #state: UpstreamState = 'open'

  constructor(conf: UpstreamConf) {
    this.model = upstreamModel(conf)
    const priorities = [...new Set(this.model.nodes.map((n) => n.priority))].sort((a, b) => b - a)
    this.#groups = priorities.map((p) => {
      const nodes = this.model.nodes.filter((n) => n.priority === p)
      return { nodes, balancer: this.model.type === 'chash' ? new ConsistentHash(nodes) : roundRobin(nodes) }
    })
    const { timeoutMs, keepalive } = this.model
    this.dispatcher = new Agent({
      connections: keepalive.size,
      keepAliveTimeout: keepalive.idleTimeoutMs,
      keepAliveMaxTimeout: Math.max(keepalive.idleTimeoutMs, 1000),
      maxRequestsPerClient: keepalive.requests,
      headersTimeout: timeoutMs.read,
      bodyTimeout: timeoutMs.read,
      connect: { timeout: timeoutMs.connect, rejectUnauthorized: this.model.tlsVerify },
    })
  }

  get closed(): boolean {
    return this.#state === 'closed'
  }

  /**
   * The node for this try. `hashKey` matters for chash only (see hashKeyFor); `tried` are the
   * nodes this request already failed on. Undefined when no node is left.
   */
  pick(hashKey = '', tried?: ReadonlySet<UpstreamNode>): UpstreamNode | undefined {
    for (const group of this.#groups) {
      if (tried !== undefined && group.nodes.every((n) => tried.has(n))) continue
      const node = group.balancer.pick(hashKey, tried)
      if (node !== undefined) return node
    }
    return undefined
  }

  /** Closes the keep-alive pools; requests in flight finish first. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    await this.dispatcher.close()
  }
}

function roundRobin(nodes: readonly UpstreamNode[]): Balancer {
  const rr = new RoundRobin(nodes)
  return { pick: (_key, tried) => rr.pick(tried) }
}
