// The whole configuration a write would produce: the store's snapshot with one object put
// or removed. Both the Admin API (to validate it whole before anything is kept) and the
// stores (to apply it) build it the same way, so what was checked is what runs.
import type { Kind, RawConfig } from './types.js'

type Obj = Readonly<Record<string, unknown>>

/** The id an object of `kind` is stored and addressed under (consumers: the username; routes without one: `arr_<n>`). */
export function itemId(kind: Kind, item: Obj, index: number): string {
  if (kind === 'consumers' && typeof item.username === 'string') return item.username
  if (item.id !== undefined && item.id !== null) return String(item.id)
  return `arr_${index + 1}`
}

/** A credential is kept among consumers as `<username>/credentials/<id>` (the standalone shape). */
export function isCredential(kind: Kind, item: Obj): boolean {
  return kind === 'consumers' && typeof item.id === 'string' && item.id.includes('/credentials/')
}

/** `raw` with `value` as the object `kind`/`id`: replaced in its position, or appended. */
export function withItem(raw: RawConfig, kind: Kind, id: string, value: Obj): RawConfig {
  const list = raw[kind] ?? []
  const index = list.findIndex((item, i) => itemId(kind, item, i) === id)
  const next = index < 0 ? [...list, value] : list.map((item, i) => (i === index ? value : item))
  return { ...raw, [kind]: next }
}

/** `raw` without the object `kind`/`id` (unchanged when it is absent). */
export function withoutItem(raw: RawConfig, kind: Kind, id: string): RawConfig {
  const list = raw[kind]
  if (list === undefined) return raw
  return { ...raw, [kind]: list.filter((item, i) => itemId(kind, item, i) !== id) }
}

/** The object `kind`/`id` in `raw`, if any. */
export function findItem(raw: RawConfig, kind: Kind, id: string): Obj | undefined {
  return raw[kind]?.find((item, i) => itemId(kind, item, i) === id)
}
