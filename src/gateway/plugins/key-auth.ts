// key-auth (apisix-config.md §9) as an in-process plugin: type auth, priority 2500, rewrite
// phase. It finds the consumer whose key-auth `key` equals the request's key, and attaches it
// with attachConsumer() — the hook every auth plugin uses, so the gateway can merge the
// consumer's and its group's plugins (merge.ts mergeConsumer) after the rewrite phase.
import type { Exchange } from '../../engine/exchange.js'
import type { Plugin, PluginResponse } from '../../engine/plugin.js'
import type { ConfigSnapshot, ConsumerConfig } from '../config/types.js'

export interface KeyAuthConf {
  readonly header: string
  readonly query: string
  readonly hide_credentials: boolean
  readonly realm: string
  readonly anonymous_consumer?: string
}

/** The route/service side of key-auth (APISIX's schema). */
export const keyAuthSchema = {
  type: 'object',
  properties: {
    header: { type: 'string', default: 'apikey' },
    query: { type: 'string', default: 'apikey' },
    hide_credentials: { type: 'boolean', default: false },
    realm: { type: 'string', default: 'key' },
    anonymous_consumer: { type: 'string', minLength: 1 },
  },
} as const

/** The consumer/credential side: the key itself. */
export const keyAuthConsumerSchema = {
  type: 'object',
  properties: { key: { type: 'string' } },
  required: ['key'],
} as const

/** A consumer as an auth plugin attaches it to a request. */
export interface AttachedConsumer {
  readonly consumer: ConsumerConfig
  /** The credential id when a credential (not the consumer's own conf) matched. */
  readonly credentialId?: string
  /** The auth plugin that identified it. */
  readonly plugin: string
}

const CONSUMER = Symbol('apisix-ext-plugin.consumer')

/**
 * The hook for auth plugins: call it from a rewrite handler once the request is identified.
 * It sets the headers APISIX sets (`X-Consumer-Username`, `X-Credential-Identifier`,
 * `X-Consumer-Custom-ID`; a missing value removes the header). The gateway reads it back
 * with consumerOf() to merge the consumer's plugins.
 */
export function attachConsumer(exchange: Exchange, attached: AttachedConsumer): void {
  exchange.ctx.set(CONSUMER, attached)
  setOrDelete(exchange, 'X-Consumer-Username', attached.consumer.username)
  setOrDelete(exchange, 'X-Credential-Identifier', attached.credentialId)
  setOrDelete(exchange, 'X-Consumer-Custom-ID', attached.consumer.labels?.custom_id)
}

export function consumerOf(exchange: Exchange): AttachedConsumer | undefined {
  return exchange.ctx.get(CONSUMER) as AttachedConsumer | undefined
}

/** Keys to consumers, built once per snapshot. Later-loaded duplicates win, as in APISIX. */
export interface KeyIndex {
  get(key: string): { consumer: ConsumerConfig; credentialId?: string } | undefined
  readonly size: number
}

const indexes = new WeakMap<ConfigSnapshot, KeyIndex>()

export function keyIndexOf(snapshot: ConfigSnapshot): KeyIndex {
  let index = indexes.get(snapshot)
  if (index !== undefined) return index
  const map = new Map<string, { consumer: ConsumerConfig; credentialId?: string }>()
  for (const [, consumer] of snapshot.consumers) {
    const key = consumer.plugins?.['key-auth']?.key
    if (typeof key === 'string') map.set(key, { consumer })
  }
  for (const cred of snapshot.credentials) {
    const key = cred.plugins['key-auth']?.key
    const consumer = snapshot.consumers.get(cred.username)
    if (typeof key === 'string' && consumer !== undefined) map.set(key, { consumer, credentialId: cred.id })
  }
  index = map
  indexes.set(snapshot, index)
  return index
}

export interface KeyAuthOptions {
  /** The snapshot a request runs on (the gateway knows it per request). */
  readonly snapshotOf: (exchange: Exchange) => ConfigSnapshot | undefined
}

export type KeyAuthPlugin = Plugin<KeyAuthConf> & { readonly consumerSchema: object; readonly type: 'auth' }

export function keyAuthPlugin(options: KeyAuthOptions): KeyAuthPlugin {
  return {
    name: 'key-auth',
    type: 'auth',
    priority: 2500,
    schema: keyAuthSchema,
    consumerSchema: keyAuthConsumerSchema,
    rewrite(conf, exchange): PluginResponse | undefined {
      const fromHeader = exchange.headers.get(conf.header)
      let key: string | undefined = fromHeader
      let source: 'header' | 'query' | undefined = fromHeader === undefined ? undefined : 'header'
      if (key === undefined) {
        const arg = exchange.args.find((a) => a.name === conf.query)
        if (arg !== undefined && arg.value !== true) {
          key = arg.value
          source = 'query'
        }
      }
      const snapshot = options.snapshotOf(exchange)
      const found = key === undefined || snapshot === undefined ? undefined : keyIndexOf(snapshot).get(key)
      if (found === undefined) {
        const anonymous = conf.anonymous_consumer === undefined ? undefined : snapshot?.consumers.get(conf.anonymous_consumer)
        if (conf.anonymous_consumer !== undefined) {
          if (anonymous === undefined) return unauthorized(conf, 'Invalid user authorization')
          if (conf.hide_credentials) hide(exchange, conf, source)
          attachConsumer(exchange, { consumer: anonymous, plugin: 'key-auth' })
          return undefined
        }
        return unauthorized(conf, key === undefined ? 'Missing API key in request' : 'Invalid API key in request')
      }
      if (conf.hide_credentials) hide(exchange, conf, source)
      attachConsumer(exchange, {
        consumer: found.consumer,
        plugin: 'key-auth',
        ...(found.credentialId === undefined ? {} : { credentialId: found.credentialId }),
      })
      return undefined
    },
  }
}

function unauthorized(conf: KeyAuthConf, message: string): PluginResponse {
  return { status: 401, headers: { 'WWW-Authenticate': `apikey realm="${conf.realm}"` }, body: { message } }
}

function hide(exchange: Exchange, conf: KeyAuthConf, source: 'header' | 'query' | undefined): void {
  if (source === 'header') exchange.headers.delete(conf.header)
  else if (source === 'query') exchange.args = exchange.args.filter((a) => a.name !== conf.query)
}

function setOrDelete(exchange: Exchange, name: string, value: string | undefined): void {
  if (value === undefined) exchange.headers.delete(name)
  else exchange.headers.set(name, value)
}
