// Exchanges for engine tests, without any HTTP server.
import { Exchange, type ExchangeInit } from '../../src/engine/exchange.js'
import { HeaderList } from '../../src/engine/headers.js'
import type { FinalResponse } from '../../src/engine/plugin.js'

export interface TestRequest {
  method?: string
  url?: string
  headers?: Array<[string, string]>
  body?: string | Buffer
  remoteAddress?: string
  init?: Partial<ExchangeInit>
}

export function exchangeOf(request: TestRequest = {}): Exchange {
  const body = request.body === undefined ? undefined : Buffer.from(request.body)
  return new Exchange({
    method: request.method ?? 'GET',
    url: request.url ?? '/hello',
    headers: HeaderList.from(request.headers ?? [['Host', 'localhost']]),
    remoteAddress: request.remoteAddress ?? '127.0.0.1',
    remotePort: 50000,
    serverAddress: '127.0.0.1',
    serverPort: 9080,
    body: { read: async () => body },
    ...request.init,
  })
}

/** A response as plain data, for t.same. */
export function plain(response: FinalResponse | undefined) {
  if (response === undefined) return undefined
  return { status: response.status, headers: [...response.headers], body: response.body?.toString('latin1') }
}
