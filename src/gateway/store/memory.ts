// The store of a gateway whose configuration came from a file or an object: the objects live
// in memory, in the standalone shape. A write builds the whole candidate configuration and
// hands it to the gateway, which validates and swaps it in (or throws, and nothing changed);
// with write-through, the file is then replaced atomically before the write is acknowledged.
import { findItem, itemId, withItem, withoutItem } from './candidate.js'
import { writeConfigFile, type FileFormat } from './file.js'
import type { ConfigStore, Kind, RawConfig, StoredItem } from './types.js'

export interface MemoryStoreOptions {
  /** What the gateway runs on now, in the standalone shape (read on every call: the gateway may be updated directly too). */
  readonly current: () => RawConfig
  /** Validates `candidate` whole and makes the gateway run on it; throws (a ConfigError) and changes nothing when it is invalid. */
  readonly apply: (candidate: RawConfig) => void
  /** Also replace this file (in this format) on every write, so a write survives a restart. */
  readonly writeThrough?: { readonly file: string; readonly format: FileFormat }
  /** Called once the file holds a write (write-through only). */
  readonly written?: () => void
}

interface Revision {
  readonly createdIndex: number
  readonly modifiedIndex: number
}

export class MemoryStore implements ConfigStore {
  readonly #options: MemoryStoreOptions
  /** APISIX's createdIndex / modifiedIndex, from one counter as etcd's revision would be. */
  #revision = 1
  readonly #revisions = new Map<string, Revision>()
  #lastId = 0n
  /** Writes run one after another: each builds on the previous one's result, files land in order. */
  #queue: Promise<unknown> = Promise.resolve()

  constructor(options: MemoryStoreOptions) {
    this.#options = options
  }

  snapshot(): RawConfig {
    return this.#options.current()
  }

  get(kind: Kind, id: string): StoredItem | undefined {
    const value = findItem(this.snapshot(), kind, id)
    return value === undefined ? undefined : this.#item(kind, id, value)
  }

  list(kind: Kind): readonly StoredItem[] {
    return (this.snapshot()[kind] ?? []).map((value, index) => this.#item(kind, itemId(kind, value, index), value))
  }

  put(kind: Kind, id: string, value: Readonly<Record<string, unknown>>): Promise<StoredItem> {
    return this.#serial(async () => {
      await this.#commit(withItem(this.snapshot(), kind, id, value))
      const revision = ++this.#revision
      const previous = this.#revisions.get(key(kind, id))
      this.#revisions.set(key(kind, id), { createdIndex: previous?.createdIndex ?? revision, modifiedIndex: revision })
      return this.#item(kind, id, value)
    })
  }

  delete(kind: Kind, id: string): Promise<StoredItem | undefined> {
    return this.#serial(async () => {
      const existing = this.get(kind, id)
      if (existing === undefined) return undefined
      await this.#commit(withoutItem(this.snapshot(), kind, id))
      this.#revision++
      this.#revisions.delete(key(kind, id))
      return existing
    })
  }

  async nextId(kind: Kind): Promise<string> {
    // APISIX's POST ids are etcd revisions, 20 digits, in creation order; here a clock in
    // microseconds that never repeats, skipping any id already taken.
    for (;;) {
      const now = BigInt(Date.now()) * 1000n
      this.#lastId = now > this.#lastId ? now : this.#lastId + 1n
      const id = this.#lastId.toString().padStart(20, '0')
      if (findItem(this.snapshot(), kind, id) === undefined) return id
    }
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => undefined)
  }

  /** The gateway takes the candidate first (it may refuse it); then the file, or back to the previous configuration. */
  async #commit(candidate: RawConfig): Promise<void> {
    const previous = this.snapshot()
    this.#options.apply(candidate)
    const through = this.#options.writeThrough
    if (through === undefined) return
    try {
      await writeConfigFile(through.file, candidate, through.format)
      this.#options.written?.()
    } catch (err) {
      // Not acknowledged, so not kept: the gateway goes back to what the file still holds.
      this.#options.apply(previous)
      throw err
    }
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => undefined)
    return run
  }

  #item(kind: Kind, id: string, value: Readonly<Record<string, unknown>>): StoredItem {
    const revision = this.#revisions.get(key(kind, id)) ?? { createdIndex: 1, modifiedIndex: 1 }
    return { kind, id, value, ...revision }
  }
}

function key(kind: Kind, id: string): string {
  return `${kind}/${id}`
}

