// One etcd change (a single key or a burst) turned into one configuration swap.
//
// What "the running object" means: each key has a last good value, the one the running
// configuration was built from. A change is applied whole when the configuration it
// produces validates and compiles. When it does not, the keys at fault keep their last
// good value (or stay absent if they never had one) and the rest of the change applies:
//   - a value that is not JSON, not an object, or fails its object's schema or a plugin's
//     schema: that key is at fault;
//   - a whole-configuration error (a reference to a missing object, a deletion of an
//     object still referenced, a duplicate key-auth key, a plugin in two global rules)
//     names one object; if that object changed, it is at fault; if it did not (deleting an
//     upstream a route still uses names the route), the changed keys are tried one at a
//     time, dependencies first, and those that cannot be added keep their last good value.
// A refused key stays pending: every later change retries it, so a route written before
// its upstream loads as soon as the upstream arrives.
//
// APISIX checks each item on its own and skips an invalid one (the previous value of that
// key stays too), without checking references (they fail per request: 502/503/404). The
// difference here: references are checked, so the faults above include them.
import type { RawConfig } from '../store/types.js'
import type { EtcdEntry, EtcdItem } from './etcd-keys.js'

/** A configuration validated and compiled, not yet running. */
export interface Prepared {
  commit(): void
  /** Releases what compiling created (upstream pools) when the candidate is not used. */
  discard(): void
}

/** Validates and compiles a standalone-shaped configuration; throws (a ConfigError) when it is not loadable. */
export type Prepare = (config: RawConfig) => Prepared

export interface Refusal {
  readonly key: string
  /** The revision of the refused value (of the deletion, for a refused delete). */
  readonly modRevision: number
  readonly error: unknown
  /** Whether a last good value stays in effect (false: the key is simply not loaded). */
  readonly kept: boolean
}

export interface ApplyResult {
  /** The items the running configuration is built from after this change. */
  readonly good: ReadonlyMap<string, EtcdItem>
  readonly refusals: readonly Refusal[]
  /** Whether a new configuration was swapped in. */
  readonly swapped: boolean
}

// Dependencies first when adding one key at a time; deletions in the reverse order.
const ORDER = ['upstreams', 'services', 'plugin_configs', 'consumer_groups', 'consumers', 'global_rules', 'routes'] as const

/**
 * `mirror` is what etcd holds now (every supported key), `good` what the running
 * configuration was built from, `deletedAt` the revision that removed a key from the mirror.
 */
export function applyChange(
  mirror: ReadonlyMap<string, EtcdEntry>,
  good: ReadonlyMap<string, EtcdItem>,
  prepare: Prepare,
  revision: number,
): ApplyResult {
  const candidate = new Map<string, EtcdItem>()
  const faults = new Map<string, unknown>()
  for (const [key, entry] of mirror) {
    if (entry.item !== undefined) {
      candidate.set(key, entry.item)
      continue
    }
    faults.set(key, entry.error)
    const last = good.get(key)
    if (last !== undefined) candidate.set(key, last)
  }
  const pending = new Set<string>()
  for (const key of new Set([...candidate.keys(), ...good.keys()])) {
    if (candidate.get(key) !== good.get(key)) pending.add(key)
  }
  const refusals = (): Refusal[] =>
    [...faults].map(([key, error]) => ({
      key,
      modRevision: mirror.get(key)?.modRevision ?? revision,
      error,
      kept: good.has(key),
    }))
  if (pending.size === 0) return { good, refusals: refusals(), swapped: false }

  // Fast path: the whole change, then without each key an error names, one at a time.
  for (;;) {
    const { config, keyAt } = toConfig(candidate)
    try {
      prepare(config).commit()
      return { good: candidate, refusals: refusals(), swapped: true }
    } catch (err) {
      const key = blame(err, keyAt, candidate)
      if (key === undefined || !pending.has(key)) break
      revert(candidate, good, key)
      pending.delete(key)
      faults.set(key, err)
      if (pending.size === 0) return { good, refusals: refusals(), swapped: false }
    }
  }

  // Slow path: from the running configuration, add the changed keys one by one.
  let base = new Map(good)
  let prepared: Prepared | undefined
  let remaining = ordered([...pending], candidate, good)
  const reasons = new Map<string, unknown>()
  for (let progress = true; progress && remaining.length > 0; ) {
    progress = false
    const left: string[] = []
    for (const key of remaining) {
      const trial = new Map(base)
      revert(trial, candidate, key)
      try {
        const next = prepare(toConfig(trial).config)
        prepared?.discard()
        prepared = next
        base = trial
        progress = true
      } catch (err) {
        reasons.set(key, err)
        left.push(key)
      }
    }
    remaining = left
  }
  prepared?.commit()
  for (const key of remaining) faults.set(key, reasons.get(key))
  return { good: base, refusals: refusals(), swapped: prepared !== undefined }
}

/** Sets `key` in `target` to what `source` holds for it (absent if absent). */
function revert(target: Map<string, EtcdItem>, source: ReadonlyMap<string, EtcdItem>, key: string): void {
  const value = source.get(key)
  if (value === undefined) target.delete(key)
  else target.set(key, value)
}

function ordered(keys: string[], candidate: ReadonlyMap<string, EtcdItem>, good: ReadonlyMap<string, EtcdItem>): string[] {
  const rank = (item: EtcdItem): number => ORDER.indexOf(item.kind) * 2 + (item.id.includes('/credentials/') ? 1 : 0)
  const puts = keys.filter((k) => candidate.has(k)).map((k) => candidate.get(k)!)
  const deletes = keys.filter((k) => !candidate.has(k)).map((k) => good.get(k)!)
  puts.sort((a, b) => rank(a) - rank(b) || a.createRevision - b.createRevision)
  deletes.sort((a, b) => rank(b) - rank(a) || a.createRevision - b.createRevision)
  return [...puts, ...deletes].map((item) => item.key)
}

/** The standalone shape, each section in creation order (so every gateway orders routes alike). */
export function toConfig(items: ReadonlyMap<string, EtcdItem>): { config: RawConfig; keyAt: (section: string, index: number) => string | undefined } {
  const sections = new Map<string, EtcdItem[]>()
  for (const item of items.values()) {
    let list = sections.get(item.kind)
    if (list === undefined) sections.set(item.kind, (list = []))
    list.push(item)
  }
  const config: Record<string, Array<Readonly<Record<string, unknown>>>> = {}
  for (const [kind, list] of sections) {
    list.sort((a, b) => a.createRevision - b.createRevision || (a.key < b.key ? -1 : 1))
    config[kind] = list.map((item) => item.value)
  }
  return { config: config as RawConfig, keyAt: (section, index) => sections.get(section)?.[index]?.key }
}

/** The key an error is about: from its field path (`routes[3].upstream_id`) or its message (`route r1: …`). */
function blame(err: unknown, keyAt: (section: string, index: number) => string | undefined, items: ReadonlyMap<string, EtcdItem>): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const path = (err as { path?: unknown }).path
  if (typeof path === 'string') {
    const at = /^(\w+)\[(\d+)\]/.exec(path)
    if (at !== null) return keyAt(at[1]!, Number(at[2]))
  }
  const message = (err as { message?: unknown }).message
  if (typeof message !== 'string') return undefined
  const compiled = /^(route|global rule) (\S+): /.exec(message)
  if (compiled === null) return undefined
  const kind = compiled[1] === 'route' ? 'routes' : 'global_rules'
  for (const item of items.values()) if (item.kind === kind && item.id === compiled[2]) return item.key
  return undefined
}
