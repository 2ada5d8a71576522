// What the Admin API knows of each object kind (apisix-config.md §8): the singular name its
// messages use, the methods APISIX refuses for it, and who may hold a reference to it.
import { KINDS, type Kind } from '../store/types.js'

export type Method = 'get' | 'put' | 'post' | 'patch' | 'delete'

/** Another kind whose objects point at this one through `field` (a DELETE is refused while one does). */
export interface Referrer {
  readonly kind: Kind
  readonly field: string
  /** The word in the message: `route [1] is still using it now`. */
  readonly label: string
}

export interface Resource {
  readonly kind: Kind
  /** `route`, `plugin config`…: APISIX's `kind` in its messages. */
  readonly singular: string
  readonly unsupported: ReadonlySet<Method>
  readonly referrers: readonly Referrer[]
  /** The start of the refusal: `can not delete this upstream` (services say `… directly`). */
  readonly deleteRefusal: string
}

const route = (field: string): Referrer => ({ kind: 'routes', field, label: 'route' })

export const RESOURCES: Readonly<Record<Kind, Resource>> = {
  routes: { kind: 'routes', singular: 'route', unsupported: new Set(), referrers: [], deleteRefusal: 'can not delete this route' },
  services: {
    kind: 'services',
    singular: 'service',
    unsupported: new Set(),
    referrers: [route('service_id')],
    deleteRefusal: 'can not delete this service directly',
  },
  upstreams: {
    kind: 'upstreams',
    singular: 'upstream',
    unsupported: new Set(),
    referrers: [route('upstream_id'), { kind: 'services', field: 'upstream_id', label: 'service' }],
    deleteRefusal: 'can not delete this upstream',
  },
  plugin_configs: {
    kind: 'plugin_configs',
    singular: 'plugin config',
    unsupported: new Set(['post']),
    referrers: [route('plugin_config_id')],
    deleteRefusal: 'can not delete this plugin config',
  },
  consumers: {
    kind: 'consumers',
    singular: 'consumer',
    unsupported: new Set(['post', 'patch']),
    referrers: [],
    deleteRefusal: 'can not delete this consumer',
  },
  consumer_groups: {
    kind: 'consumer_groups',
    singular: 'consumer group',
    unsupported: new Set(['post']),
    referrers: [{ kind: 'consumers', field: 'group_id', label: 'consumer' }],
    deleteRefusal: 'can not delete this consumer group',
  },
  global_rules: { kind: 'global_rules', singular: 'global rule', unsupported: new Set(['post']), referrers: [], deleteRefusal: 'can not delete this global rule' },
}

export function resourceOf(name: string): Resource | undefined {
  return (KINDS as readonly string[]).includes(name) ? RESOURCES[name as Kind] : undefined
}

/** The etcd-style key APISIX's envelopes carry: `/apisix/routes/1`. */
export function keyOf(kind: Kind, id: string): string {
  return `/apisix/${kind}/${id}`
}
