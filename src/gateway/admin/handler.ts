// The Admin API as a node:http request listener (apisix-config.md §8): `/apisix/admin/<kind>
// [/<id>[/<sub/path>]]`, `/apisix/admin/plugins/list|reload|<name>`. Order as APISIX's: the
// key first, then the resource, the method, the body (bounded), then the operation. Writes
// run one at a time per store, each on the result of the previous one.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../../logger.js'
import type { ConfigStore, RawConfig } from '../store/types.js'
import { authenticate, type Keys } from './auth.js'
import { readBody, tooLargeMessage } from './body.js'
import { credentialReply } from './credentials.js'
import { deleteObject, getObjects, patchObject, postObject, putObject, type OperationContext, type Target } from './operations.js'
import { pluginsReply, type PluginCatalog } from './plugins.js'
import { resourceOf, type Method } from './resources.js'
import { failure, KEY_NOT_FOUND, reply, send, type Reply } from './respond.js'

export interface AdminDependencies {
  /** The store writes go to (read on every request: a gateway may change it). */
  readonly store: () => ConfigStore
  readonly check: (candidate: RawConfig) => void
  readonly plugins: PluginCatalog
  readonly logger: Logger
}

const PREFIX = '/apisix/admin'
const METHODS: ReadonlySet<string> = new Set(['get', 'put', 'post', 'patch', 'delete'])
const WITH_BODY: ReadonlySet<string> = new Set(['put', 'post', 'patch'])
const NOT_FOUND = failure(404, '404 Route Not Found')
/**
 * APISIX resources this gateway does not serve. They read as empty (a6 `config sync` lists
 * every one of them and reads each plugin's metadata) and refuse writes.
 */
const EMPTY: ReadonlySet<string> = new Set(['ssl', 'ssls', 'stream_routes', 'protos', 'secrets', 'plugin_metadata'])

/** One write queue per store, shared by every handler on it. */
const queues = new WeakMap<ConfigStore, Promise<unknown>>()

/**
 * A request listener, or a connect/Express middleware: a path outside `/apisix/admin` goes to
 * `next` when there is one (404 otherwise). Under `app.use('/apisix/admin', …)` the full path is
 * read from Express's `originalUrl`.
 */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

export function createAdminHandler(deps: AdminDependencies, keys: Keys): AdminHandler {
  return (req, res, next) => {
    handle(deps, keys, req, res, next).catch((err: unknown) => {
      deps.logger.error({ method: req.method, url: req.url, err }, 'admin api request failed')
      if (!res.headersSent) send(res, failure(503, err instanceof Error ? err.message : String(err)))
      else res.destroy()
    })
  }
}

async function handle(
  deps: AdminDependencies,
  keys: Keys,
  req: IncomingMessage,
  res: ServerResponse,
  next: ((err?: unknown) => void) | undefined,
): Promise<void> {
  const url = new URL((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/', 'http://admin.invalid')
  if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) return next !== undefined ? next() : send(res, NOT_FOUND)
  const auth = authenticate(req, url, keys)
  if (auth.refusal !== undefined) {
    deps.logger.warn({ method: req.method, url: url.pathname, reason: auth.refusal }, 'failed to check token')
    return send(res, reply(401, { error_msg: 'failed to check token', description: auth.refusal }))
  }
  // ['routes', '1', 'upstream', 'nodes'], decoded as nginx's $uri is
  const segments = url.pathname.slice(PREFIX.length + 1).split('/').map(decode)
  const [name = '', rawId, ...rest] = segments
  const method = (req.method ?? 'GET').toLowerCase()
  if (name === 'plugins') return send(res, pluginsReply(deps.plugins, method, rawId, url.searchParams))
  if (EMPTY.has(name)) return send(res, emptyReply(name, method, rawId))
  const resource = resourceOf(name)
  if (resource === undefined) return send(res, failure(404, `Unsupported resource type: ${name}`))
  if (!METHODS.has(method)) return send(res, NOT_FOUND)
  const credentials = resource.kind === 'consumers' && rest[0] === 'credentials'
  if (!credentials && resource.unsupported.has(method as Method)) {
    return send(res, failure(405, `not supported \`${method.toUpperCase()}\` method for ${resource.singular}`))
  }
  let body: unknown
  if (WITH_BODY.has(method)) {
    const read = await readBody(req)
    if (read.state === 'aborted') return void req.destroy()
    if (read.state === 'too-large') {
      res.once('finish', () => linger(req))
      return send(res, failure(400, tooLargeMessage(read.size)), true)
    }
    if (read.text.trim() !== '') {
      try {
        body = JSON.parse(read.text)
      } catch (err) {
        return send(res, failure(400, `invalid request body: ${(err as Error).message}`))
      }
    }
  }
  const ttl = url.searchParams.get('ttl')
  if (ttl !== null) {
    if (!Number.isFinite(Number(ttl))) return send(res, failure(400, 'invalid argument ttl: should be a number'))
    // an object that expires would need a timer per object and a reload when it fires
    return send(res, failure(400, 'invalid argument ttl: not supported by this gateway'))
  }
  const target: Target = { resource, id: rawId === undefined || rawId === '' ? undefined : rawId, subPath: rest.join('/'), query: url.searchParams }
  const store = deps.store()
  const ctx: OperationContext = { store, check: deps.check }
  if (credentials && target.id !== undefined) {
    const credential = { username: target.id, id: rest[1] === undefined || rest[1] === '' ? undefined : rest[1] }
    if (method === 'get') return send(res, await credentialReply(ctx, method, credential, body))
    return send(res, await serial(store, async () => credentialReply(ctx, method, credential, body)))
  }
  if (method === 'get') return send(res, getObjects(ctx, target))
  const answer = await serial(store, (): Promise<Reply> => {
    if (method === 'put') return putObject(ctx, target, body)
    if (method === 'post') return postObject(ctx, target, body)
    if (method === 'patch') return patchObject(ctx, target, body)
    return deleteObject(ctx, target)
  })
  if (answer.status < 300) deps.logger.info({ method: req.method, url: url.pathname, status: answer.status }, 'admin api write')
  send(res, answer)
}

function emptyReply(name: string, method: string, id: string | undefined): Reply {
  if (method !== 'get') return failure(405, `not supported \`${method.toUpperCase()}\` method for ${name}: this gateway does not serve ${name}`)
  return id === undefined || id === '' ? reply(200, { total: 0, list: [] }) : KEY_NOT_FOUND
}

/**
 * After refusing a body that was not read to its end: the rest is read and dropped (never
 * kept) for a while before the socket is destroyed. Destroying at once makes the kernel answer
 * the client's next bytes with a reset, which can discard the refusal before the client reads
 * it (nginx's lingering close, for the same reason).
 */
function linger(req: IncomingMessage, ms = 2000, bytes = 8 * 1024 * 1024): void {
  let dropped = 0
  const timer = setTimeout(() => req.destroy(), ms).unref()
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length
    if (dropped > bytes) req.destroy()
  })
  req.once('close', () => clearTimeout(timer))
  req.resume()
}

function serial<T>(store: ConfigStore, task: () => Promise<T>): Promise<T> {
  const run = (queues.get(store) ?? Promise.resolve()).then(task, task)
  queues.set(
    store,
    run.catch(() => undefined),
  )
  return run
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
