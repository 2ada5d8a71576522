// GET of a collection (apisix-config.md §8, APISIX v3_adapter): filters `name` (substring),
// `label` (`key` or `key:value`), `uri` (a regular expression found in `uri` or one of
// `uris`), `filter` (`field=value&…`, URL-encoded), then `page` / `page_size` (10–500).
import type { StoredItem } from '../store/types.js'
import { failure, type Reply } from './respond.js'

export type Page = { readonly items: readonly StoredItem[]; readonly total: number; readonly error?: undefined } | { readonly error: Reply }

export function listPage(items: readonly StoredItem[], query: URLSearchParams): Page {
  const filtered = items.filter(matcher(query))
  const size = query.get('page_size')
  const page = query.get('page')
  if (size === null && page === null) return { items: filtered, total: filtered.length }
  const pageSize = size === null ? 10 : Number(size)
  if (!Number.isInteger(pageSize) || pageSize < 10 || pageSize > 500) return { error: failure(400, 'page_size must be between 10 and 500') }
  const number = page === null ? 1 : Number(page)
  if (!Number.isInteger(number) || number < 1) return { error: failure(400, 'page must be greater than or equal to 1') }
  return { items: filtered.slice((number - 1) * pageSize, number * pageSize), total: filtered.length }
}

function matcher(query: URLSearchParams): (item: StoredItem) => boolean {
  const tests: Array<(value: Readonly<Record<string, unknown>>) => boolean> = []
  const name = query.get('name')
  if (name !== null) tests.push((v) => typeof v.name === 'string' && v.name.includes(name))
  const label = query.get('label')
  if (label !== null) {
    const at = label.indexOf(':')
    const key = at < 0 ? label : label.slice(0, at)
    const want = at < 0 ? undefined : label.slice(at + 1)
    tests.push((v) => {
      const labels = v.labels as Record<string, unknown> | undefined
      if (labels === undefined || labels === null || !(key in labels)) return false
      return want === undefined || labels[key] === want
    })
  }
  const uri = query.get('uri')
  if (uri !== null) {
    let pattern: RegExp | undefined
    try {
      pattern = new RegExp(uri)
    } catch {
      pattern = undefined
    }
    tests.push((v) => {
      const uris = [v.uri, ...(Array.isArray(v.uris) ? v.uris : [])].filter((u): u is string => typeof u === 'string')
      return uris.some((u) => (pattern === undefined ? u.includes(uri) : pattern.test(u)))
    })
  }
  const filter = query.get('filter')
  if (filter !== null) {
    for (const [field, want] of new URLSearchParams(filter)) tests.push((v) => v[field] !== undefined && String(v[field]) === want)
  }
  return (item) => tests.every((test) => test(item.value))
}
