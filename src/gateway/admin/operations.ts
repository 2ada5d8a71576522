// The Admin API's methods on one kind of object (apisix-config.md §8, APISIX admin/resource.lua):
// the id rules of each method, timestamps, and for every write the whole configuration it
// would produce checked first (`check`), so the store never keeps what the gateway would
// refuse to load.
import { ConfigError } from '../../errors.js'
import { isCredential, itemId, withItem, withoutItem } from '../store/candidate.js'
import type { ConfigStore, Kind, RawConfig, StoredItem } from '../store/types.js'
import { listPage } from './list.js'
import { adminMessage } from './messages.js'
import { isObject, mergePatch, patchSubPath } from './patch.js'
import { referenceRefusal } from './references.js'
import { keyOf, type Resource } from './resources.js'
import { failure, KEY_NOT_FOUND, reply, type Reply } from './respond.js'

type Obj = Record<string, unknown>

export interface OperationContext {
  readonly store: ConfigStore
  /** Validates and compiles a whole candidate configuration; throws its ConfigError. */
  readonly check: (candidate: RawConfig) => void
}

/** What a request names: the resource, the id (if any), the sub-path after it (PATCH), the query. */
export interface Target {
  readonly resource: Resource
  readonly id: string | undefined
  readonly subPath: string
  readonly query: URLSearchParams
}

export function getObjects(ctx: OperationContext, { resource, id, query }: Target): Reply {
  if (id === undefined) {
    // credentials live beside consumers in the store; APISIX lists them under their consumer
    const items = ctx.store.list(resource.kind).filter((item) => !isCredential(item.kind, item.value))
    const page = listPage(items, query)
    if (page.error !== undefined) return page.error
    return reply(200, { total: page.total, list: page.items.map(envelope) })
  }
  const item = ctx.store.get(resource.kind, id)
  return item === undefined ? KEY_NOT_FOUND : reply(200, envelope(item))
}

export async function putObject(ctx: OperationContext, { resource, id: pathId }: Target, body: unknown): Promise<Reply> {
  const refused = isForbiddenBody(body, 'missing configurations')
  if (refused !== undefined) return refused
  const conf = body as Obj
  let id: string
  const value: Obj = { ...conf }
  if (resource.kind === 'consumers') {
    // consumers are named by their username: `PUT /consumers` with it in the body, or in the path too
    if (pathId !== undefined && conf.username !== pathId) return failure(400, 'wrong username')
    if (typeof conf.username !== 'string') return failure(400, 'invalid configuration: property "username" is required')
    id = conf.username
  } else {
    const given = pathId ?? conf.id
    if (given === undefined || given === null) return failure(400, `missing ${resource.singular} id`)
    if (pathId !== undefined && conf.id !== undefined && String(conf.id) !== pathId) return failure(400, `wrong ${resource.singular} id`)
    id = String(given)
    value.id = given
  }
  const previous = ctx.store.get(resource.kind, id)
  stamp(value, previous)
  return checkedWrite(ctx, resource.kind, id, value, previous === undefined ? 201 : 200)
}

export async function postObject(ctx: OperationContext, { resource, id: pathId }: Target, body: unknown): Promise<Reply> {
  const refused = isForbiddenBody(body, 'missing configurations')
  if (refused !== undefined) return refused
  const conf = body as Obj
  if (pathId !== undefined || (conf.id !== undefined && conf.id !== null)) return failure(400, `wrong ${resource.singular} id, do not need it`)
  const id = await ctx.store.nextId(resource.kind)
  const value: Obj = { ...conf, id }
  stamp(value, undefined)
  return checkedWrite(ctx, resource.kind, id, value, 201)
}

export async function patchObject(ctx: OperationContext, { resource, id, subPath }: Target, body: unknown): Promise<Reply> {
  if (id === undefined) return failure(400, `missing ${resource.singular} id`)
  if (body === undefined) return failure(400, 'missing new configuration')
  if (subPath === '' && !isObject(body)) return failure(400, 'invalid configuration')
  const previous = ctx.store.get(resource.kind, id)
  if (previous === undefined) return KEY_NOT_FOUND
  let value: Obj
  if (subPath === '') value = mergePatch(previous.value, body as Obj)
  else {
    const patched = patchSubPath(previous.value, subPath, body)
    if (patched.error !== undefined) return failure(400, patched.error)
    value = patched.value
  }
  if (value.id !== undefined && String(value.id) !== id) return failure(400, `wrong ${resource.singular} id`)
  value.id ??= previous.value.id ?? id
  stamp(value, previous)
  return checkedWrite(ctx, resource.kind, id, value, 200)
}

export async function deleteObject(ctx: OperationContext, { resource, id, query }: Target): Promise<Reply> {
  if (id === undefined) return failure(400, `missing ${resource.singular} id`)
  if (ctx.store.get(resource.kind, id) === undefined) return KEY_NOT_FOUND
  const raw = ctx.store.snapshot()
  const refusal = referenceRefusal(raw, resource, id)
  const force = query.get('force') === 'true'
  if (refusal !== undefined && !force) return failure(400, refusal)
  // a consumer's credentials go with it
  const credentials = resource.kind === 'consumers' ? credentialIds(raw, id) : []
  let candidate = withoutItem(raw, resource.kind, id)
  for (const credential of credentials) candidate = withoutItem(candidate, 'consumers', credential)
  try {
    ctx.check(candidate)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    // force skips APISIX's reference check, but this gateway does not load dangling references
    if (refusal !== undefined) return failure(400, `${refusal} (force=true cannot remove it: the gateway refuses a configuration with a dangling reference)`)
    return failure(400, adminMessage(err, undefined))
  }
  for (const credential of credentials) await ctx.store.delete('consumers', credential)
  await ctx.store.delete(resource.kind, id)
  return reply(200, { deleted: '1', key: keyOf(resource.kind, id) })
}

/** Checks the candidate whole, then keeps the object; the reply carries what was stored. */
export async function checkedWrite(ctx: OperationContext, kind: Kind, id: string, value: Obj, status: number): Promise<Reply> {
  const candidate = withItem(ctx.store.snapshot(), kind, id, value)
  const index = (candidate[kind] ?? []).findIndex((item, i) => itemId(kind, item, i) === id)
  try {
    ctx.check(candidate)
    const stored = await ctx.store.put(kind, id, value)
    return reply(status, { key: keyOf(kind, id), value: stored.value })
  } catch (err) {
    if (err instanceof ConfigError) return failure(400, adminMessage(err, { kind, index }))
    throw err
  }
}

export function isForbiddenBody(body: unknown, missing: string): Reply | undefined {
  if (body === undefined || body === null) return failure(400, missing)
  if (!isObject(body)) return failure(400, `invalid configuration: wrong type: expected object, got ${Array.isArray(body) ? 'array' : typeof body}`)
  // APISIX sets the timestamps itself; the double space is its message's
  for (const field of ['create_time', 'update_time']) {
    if (field in body) return failure(400, `the property is forbidden:  ${field}`)
  }
  return undefined
}

/** APISIX's create_time (kept from the object replaced) and update_time, in epoch seconds. */
export function stamp(value: Obj, previous: StoredItem | undefined): void {
  const now = Math.floor(Date.now() / 1000)
  value.create_time = previous?.value.create_time ?? now
  value.update_time = now
}

function credentialIds(raw: RawConfig, username: string): string[] {
  return (raw.consumers ?? [])
    .filter((item) => isCredential('consumers', item) && String(item.id).startsWith(`${username}/credentials/`))
    .map((item) => String(item.id))
}

function envelope(item: StoredItem): Obj {
  return { key: keyOf(item.kind, item.id), value: item.value, createdIndex: item.createdIndex, modifiedIndex: item.modifiedIndex }
}
