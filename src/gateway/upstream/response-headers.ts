// The upstream's response headers as the client gets them: hop-by-hop lines removed (nginx's
// proxy module does not pass them), everything else in order.
import { HeaderList } from '../../engine/headers.js'
import { connectionTokens } from './request-headers.js'

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

export function clientResponseHeaders(headers: Record<string, string | string[] | undefined>): HeaderList {
  const list = new HeaderList()
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) list.append(name, v)
    else list.append(name, value)
  }
  const drop = connectionTokens(list)
  for (const name of HOP_BY_HOP) drop.add(name)
  for (const name of drop) list.delete(name)
  return list
}
