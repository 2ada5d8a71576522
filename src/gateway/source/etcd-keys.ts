// APISIX's etcd layout (apisix-config.md §7, §8): one key per object under the prefix,
// `<prefix>/<kind>/<id>`, the value the object's JSON; credentials under their consumer,
// `<prefix>/consumers/<username>/credentials/<id>`. Directory keys (`<prefix>/routes` =
// `init_dir`), `<prefix>/gen_id` and kinds this gateway does not serve share the prefix and
// are skipped here.
import { ConfigError, ErrorCode } from '../../errors.js'
import { KINDS, type Kind } from '../store/types.js'

/** One object read from etcd, ready for the standalone shape (its section is its kind). */
export interface EtcdItem {
  readonly key: string
  readonly kind: Kind
  /** The id from the key (for consumers the username; for credentials `<username>/credentials/<id>`). */
  readonly id: string
  /** The parsed value, its id field taken from the key as APISIX does. */
  readonly value: Readonly<Record<string, unknown>>
  readonly createRevision: number
  readonly modRevision: number
}

/** What etcd holds at one supported key: the item, or why its value cannot be one. */
export type EtcdEntry =
  | { readonly key: string; readonly modRevision: number; readonly item: EtcdItem; readonly error?: undefined }
  | { readonly key: string; readonly modRevision: number; readonly item?: undefined; readonly error: ConfigError }

export type KeyKind =
  | { readonly type: 'object'; readonly kind: Kind; readonly id: string }
  /** `<prefix>/<kind>` (APISIX's `init_dir`), `<prefix>/gen_id`, an empty id: nothing to load. */
  | { readonly type: 'skip' }
  /** A kind of APISIX's this gateway does not serve (ssls, protos, stream_routes, plugin_metadata…). */
  | { readonly type: 'unsupported'; readonly kind: string }

const KIND_SET: ReadonlySet<string> = new Set(KINDS)

/** `prefix` without its trailing slash, e.g. `/apisix`. */
export function classifyKey(key: string, prefix: string): KeyKind {
  if (!key.startsWith(prefix + '/')) return { type: 'skip' }
  const rest = key.slice(prefix.length + 1)
  const slash = rest.indexOf('/')
  if (slash < 0) return { type: 'skip' }
  const kind = rest.slice(0, slash)
  const id = rest.slice(slash + 1)
  if (!KIND_SET.has(kind)) return { type: 'unsupported', kind }
  if (id === '') return { type: 'skip' }
  if (kind === 'consumers' && id.includes('/') && !/^[^/]+\/credentials\/[^/]+$/.test(id)) return { type: 'skip' }
  if (kind !== 'consumers' && id.includes('/')) return { type: 'skip' }
  return { type: 'object', kind: kind as Kind, id }
}

export function keyOf(prefix: string, kind: Kind, id: string): string {
  return `${prefix}/${kind}/${id}`
}

/**
 * Parses one value. The id comes from the key, as APISIX's loader sets `value.id` from it:
 * a value whose own `id` differs is loaded under its key's id. A consumer's key is its
 * username, so a value naming another username is refused rather than silently renamed.
 */
export function parseEntry(key: string, kind: Kind, id: string, text: string, createRevision: number, modRevision: number): EtcdEntry {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { key, modRevision, error: invalid(`${key}: the value is not JSON: ${(err as Error).message}`) }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { key, modRevision, error: invalid(`${key}: invalid item data, it should be an object`) }
  }
  const object = { ...(value as Record<string, unknown>) }
  if (kind === 'consumers' && !id.includes('/')) {
    if (object.username !== id) {
      return { key, modRevision, error: invalid(`${key}: username ${JSON.stringify(object.username)} does not match the key`) }
    }
  } else {
    object.id = id
  }
  return { key, modRevision, item: { key, kind, id, value: object, createRevision, modRevision } }
}

function invalid(message: string): ConfigError {
  return new ConfigError(ErrorCode.INVALID_CONFIG, message, '')
}

/** The end of etcd's range for every key starting with `start` (its last byte plus one). */
export function rangeEnd(start: Buffer): Buffer {
  const end = Buffer.from(start)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0])
}
