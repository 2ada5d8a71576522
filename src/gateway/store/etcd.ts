// The Admin API's store when the gateway's source is etcd: writes go to etcd in APISIX's
// layout and come back to this gateway (and every other one) through the watch. A write
// resolves once the local gateway has applied its revision, so the next request here sees
// it; other gateways follow as their watches deliver it.
import type { IKeyValue, IRequestOp } from 'etcd3'
import { ErrorCode, ExtPluginError } from '../../errors.js'
import { rangeEnd, type EtcdItem } from '../source/etcd-keys.js'
import { runningConfig, type EtcdSource } from '../source/etcd.js'
import type { ConfigStore, Kind, RawConfig, StoredItem } from './types.js'

function stored(item: EtcdItem): StoredItem {
  return { kind: item.kind, id: item.id, value: item.value, createdIndex: item.createRevision, modifiedIndex: item.modRevision }
}

function isCredential(kind: Kind, id: string): boolean {
  return kind === 'consumers' && id.includes('/credentials/')
}

export class EtcdStore implements ConfigStore {
  readonly #source: EtcdSource

  constructor(source: EtcdSource) {
    this.#source = source
  }

  /** What the gateway runs on (a value etcd holds but the gateway refused is not in it). */
  snapshot(): RawConfig {
    return runningConfig(this.#source)
  }

  /** What etcd holds, as the watch last delivered it (a value that is not a JSON object is absent). */
  get(kind: Kind, id: string): StoredItem | undefined {
    const item = this.#source.entry(this.#source.keyOf(kind, id))?.item
    return item === undefined ? undefined : stored(item)
  }

  /** The objects of one kind in creation order; consumers without their credentials. */
  list(kind: Kind): readonly StoredItem[] {
    const items: EtcdItem[] = []
    for (const entry of this.#source.entries()) {
      if (entry.item?.kind === kind && !isCredential(kind, entry.item.id)) items.push(entry.item)
    }
    return items.sort((a, b) => a.createRevision - b.createRevision).map(stored)
  }

  /**
   * Writes the object with APISIX's envelope fields: `id` from the path (consumers keep
   * their `username`), `create_time` kept from the stored object or now, `update_time` now
   * (epoch seconds).
   */
  async put(kind: Kind, id: string, value: Readonly<Record<string, unknown>>): Promise<StoredItem> {
    const key = this.#source.keyOf(kind, id)
    const now = Math.floor(Date.now() / 1000)
    const { create_time: _create, update_time: _update, ...body } = value as Record<string, unknown>
    if (kind !== 'consumers' || isCredential(kind, id)) body.id = id
    const before = this.#source.entry(key)?.item?.value.create_time
    body.create_time = typeof before === 'number' ? before : now
    body.update_time = now
    const res = await this.#call(`write ${key}`, () =>
      this.#source.client.kv.put({ key: Buffer.from(key), value: Buffer.from(JSON.stringify(body)), prev_kv: true }, this.#source.callOptions()),
    )
    const revision = Number(res.header.revision)
    const created = res.prev_kv === null || res.prev_kv === undefined ? revision : Number(res.prev_kv.create_revision)
    await this.#settle(key, revision, false)
    return { kind, id, value: body, createdIndex: created, modifiedIndex: revision }
  }

  /** Removes the object (a consumer with its credentials, as APISIX does) and resolves with what it was. */
  async delete(kind: Kind, id: string): Promise<StoredItem | undefined> {
    const key = this.#source.keyOf(kind, id)
    const ops: IRequestOp[] = [{ request_delete_range: { key: Buffer.from(key), prev_kv: true } }]
    if (kind === 'consumers' && !isCredential(kind, id)) {
      const credentials = Buffer.from(`${key}/credentials/`)
      ops.push({ request_delete_range: { key: credentials, range_end: rangeEnd(credentials), prev_kv: true } })
    }
    const res = await this.#call(`delete ${key}`, () => this.#source.client.kv.txn({ success: ops }, this.#source.callOptions()))
    const previous: IKeyValue | undefined = res.responses[0]?.response_delete_range?.prev_kvs[0]
    if (previous === undefined) return undefined
    const revision = Number(res.header.revision)
    await this.#settle(key, revision, true)
    let value: Record<string, unknown> = {}
    try {
      value = JSON.parse(previous.value.toString()) as Record<string, unknown>
    } catch {
      // what was removed was not JSON: report it without a value
    }
    return { kind, id, value, createdIndex: Number(previous.create_revision), modifiedIndex: Number(previous.mod_revision) }
  }

  /**
   * APISIX's POST id: the revision of a write to `<prefix>/gen_id`, zero-padded to 20 digits,
   * so ids are unique across every gateway and APISIX node on this etcd, and time-ordered.
   */
  async nextId(_kind: Kind): Promise<string> {
    const key = `${this.#source.prefix}/gen_id`
    const res = await this.#call(`write ${key}`, () => this.#source.client.kv.put({ key: Buffer.from(key), value: Buffer.from('1') }, this.#source.callOptions()))
    return String(res.header.revision).padStart(20, '0')
  }

  /** The gateway owns the source and closes it. */
  async close(): Promise<void> {}

  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      throw new ExtPluginError(ErrorCode.ETCD, `etcd: cannot ${what}: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * Waits (up to the source's timeout) for the local gateway to apply `revision`. Past the
   * bound the write stands in etcd and will apply when the watch delivers it: logged, not
   * an error. A value the gateway refused (a concurrent write made it invalid) is an error.
   */
  async #settle(key: string, revision: number, deleted: boolean): Promise<void> {
    const applied = await this.#source.waitFor(revision)
    if (!applied) {
      this.#source.logger.warn(
        { key, revision },
        `etcd ${key}: written at revision ${revision}; the local gateway has not applied it within ${this.#source.timeout} ms (it will when its watch delivers it)`,
      )
      return
    }
    const refusal = this.#source.refusal(key)
    const entry = this.#source.entry(key)
    const refused = deleted ? refusal !== undefined && entry === undefined : refusal !== undefined && refusal.modRevision === revision
    if (refused && refusal !== undefined) {
      const reason = refusal.error instanceof Error ? refusal.error.message : String(refusal.error)
      throw new ExtPluginError(ErrorCode.ETCD_REFUSED, `etcd ${key}: written at revision ${revision} but refused by the gateway: ${reason}`, { cause: refusal.error })
    }
  }
}
