// Where a gateway's configuration lives when it can be written to (the Admin API): memory
// (optionally written through to the standalone file) or etcd, in APISIX's own layout
// (`<prefix>/<kind>/<id>`, the value the object's JSON). The Admin API validates a write
// against the whole configuration it would produce before asking the store to keep it, so a
// store never holds what the gateway could not load.

/** The object kinds the Admin API and etcd know, by their APISIX path segment. */
export const KINDS = ['routes', 'services', 'upstreams', 'plugin_configs', 'consumers', 'consumer_groups', 'global_rules'] as const
export type Kind = (typeof KINDS)[number]

/** One stored object, with APISIX's revision fields (etcd's create/mod revisions; a counter in memory). */
export interface StoredItem {
  readonly kind: Kind
  /** The id (for consumers: the username). */
  readonly id: string
  /** The object as written, with its id field and APISIX's create_time / update_time. */
  readonly value: Readonly<Record<string, unknown>>
  readonly createdIndex: number
  readonly modifiedIndex: number
}

/** The whole configuration in the standalone file's shape: `{ routes: [...], services: [...], ... }`. */
export type RawConfig = { readonly [K in Kind]?: ReadonlyArray<Readonly<Record<string, unknown>>> }

export interface ConfigStore {
  /** What the store holds now, in the standalone shape (the Admin API builds its candidate from it). */
  snapshot(): RawConfig
  get(kind: Kind, id: string): StoredItem | undefined
  list(kind: Kind): readonly StoredItem[]
  /**
   * Keeps one object. Resolves once the local gateway runs on the configuration that holds
   * it, so the next request sees the change.
   */
  put(kind: Kind, id: string, value: Readonly<Record<string, unknown>>): Promise<StoredItem>
  /** Removes one object; resolves (as put does) with what was removed, or undefined. */
  delete(kind: Kind, id: string): Promise<StoredItem | undefined>
  /** A fresh id for POST (APISIX: a 20-digit, time-ordered string). */
  nextId(kind: Kind): Promise<string>
  close(): Promise<void>
}
