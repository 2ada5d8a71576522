// `/apisix/admin/plugins/…` (apisix-config.md §8): `list` (the names of the plugins this
// gateway runs: the three ext-plugin-* and the registered in-process ones), `reload` (PUT
// only; the plugin set is the registered one, so there is nothing to re-read), `<name>` (its
// JSON schema; `?schema_type=consumer` for the consumer side).
import { failure, reply, type Reply } from './respond.js'

export interface PluginCatalog {
  names(): readonly string[]
  schema(name: string, side: 'route' | 'consumer'): object | undefined
}

const NOT_FOUND = failure(404, '404 Route Not Found')

export function pluginsReply(catalog: PluginCatalog, method: string, name: string | undefined, query: URLSearchParams): Reply {
  if (name === 'reload') {
    if (method !== 'put') return failure(405, `please use PUT method to reload the plugins, ${method.toUpperCase()} method is not allowed.`)
    return { status: 200, body: 'done', text: true }
  }
  if (method !== 'get' || name === undefined || name === '') return NOT_FOUND
  if (name === 'list') return reply(200, [...catalog.names()])
  const schema = catalog.schema(name, query.get('schema_type') === 'consumer' ? 'consumer' : 'route')
  return schema === undefined ? failure(404, 'plugin not found in subsystem http') : reply(200, schema)
}
