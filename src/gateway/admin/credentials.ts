// A consumer's credentials (apisix-config.md §1.5): `/apisix/admin/consumers/<username>/
// credentials[/<id>]`. They are kept among consumers as `<username>/credentials/<id>` (the
// standalone shape, and etcd's key), so reads filter by that prefix and writes go through the
// same whole-configuration check as any other object.
import { isCredential } from '../store/candidate.js'
import { keyOf } from './resources.js'
import { failure, KEY_NOT_FOUND, reply, type Reply } from './respond.js'
import { checkedWrite, isForbiddenBody, stamp, type OperationContext } from './operations.js'

export interface CredentialTarget {
  readonly username: string
  /** Undefined: the collection. */
  readonly id: string | undefined
}

export function credentialReply(ctx: OperationContext, method: string, target: CredentialTarget, body: unknown): Promise<Reply> | Reply {
  const prefix = `${target.username}/credentials/`
  const full = target.id === undefined ? undefined : prefix + target.id
  if (method === 'get') {
    if (full === undefined) {
      const items = ctx.store.list('consumers').filter((item) => isCredential(item.kind, item.value) && item.id.startsWith(prefix))
      return reply(200, { total: items.length, list: items.map((item) => ({ key: keyOf(item.kind, item.id), value: item.value, createdIndex: item.createdIndex, modifiedIndex: item.modifiedIndex })) })
    }
    const item = ctx.store.get('consumers', full)
    return item === undefined ? KEY_NOT_FOUND : reply(200, { key: keyOf(item.kind, item.id), value: item.value, createdIndex: item.createdIndex, modifiedIndex: item.modifiedIndex })
  }
  if (method === 'delete') return remove(ctx, full)
  if (method === 'put') return put(ctx, full, body)
  return failure(405, `not supported \`${method.toUpperCase()}\` method for credential`)
}

async function put(ctx: OperationContext, full: string | undefined, body: unknown): Promise<Reply> {
  if (full === undefined) return failure(400, 'missing credential id')
  const refused = isForbiddenBody(body, 'missing configurations')
  if (refused !== undefined) return refused
  const conf = body as Record<string, unknown>
  if (conf.id !== undefined && conf.id !== full) return failure(400, 'wrong credential id')
  const previous = ctx.store.get('consumers', full)
  const value: Record<string, unknown> = { ...conf, id: full }
  stamp(value, previous)
  return checkedWrite(ctx, 'consumers', full, value, previous === undefined ? 201 : 200)
}

async function remove(ctx: OperationContext, full: string | undefined): Promise<Reply> {
  if (full === undefined) return failure(400, 'missing credential id')
  if (ctx.store.get('consumers', full) === undefined) return KEY_NOT_FOUND
  await ctx.store.delete('consumers', full)
  return reply(200, { deleted: '1', key: keyOf('consumers', full) })
}
