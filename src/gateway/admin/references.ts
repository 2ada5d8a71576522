// DELETE is refused while another object points at the one being deleted, with APISIX's
// message (`can not delete this upstream, route [1] is still using it now`); `?force=true`
// skips this check (the whole-configuration check still runs).
import { itemId } from '../store/candidate.js'
import type { RawConfig } from '../store/types.js'
import type { Resource } from './resources.js'

/** The refusal for deleting `id`, or undefined when nothing refers to it. */
export function referenceRefusal(raw: RawConfig, resource: Resource, id: string): string | undefined {
  for (const referrer of resource.referrers) {
    const list = raw[referrer.kind] ?? []
    for (const [index, item] of list.entries()) {
      const ref = item[referrer.field]
      if (ref !== undefined && ref !== null && String(ref) === id) {
        return `${resource.deleteRefusal}, ${referrer.label} [${itemId(referrer.kind, item, index)}] is still using it now`
      }
    }
  }
  return undefined
}
