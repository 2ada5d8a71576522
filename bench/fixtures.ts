// The messages the benchmarks encode and decode: a realistic browser-ish request.
import type { HTTPReqCallRequest, TextEntry } from '../src/protocol/index.js'

export const headers: TextEntry[] = [
  ['host', 'api.example.com'],
  ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'],
  ['accept', 'application/json, text/plain, */*'],
  ['accept-language', 'en-US,en;q=0.9'],
  ['accept-encoding', 'gzip, deflate, br'],
  ['authorization', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'],
  ['content-type', 'application/json'],
  ['cookie', 'session=8a0f3c2d9e; theme=dark'],
  ['x-request-id', '7f9c2ba4-e88f-4d1a-9b1e-3c4d5e6f7a8b'],
  ['x-forwarded-for', '203.0.113.7'],
  ['connection', 'keep-alive'],
  ['referer', 'https://app.example.com/orders/42'],
].map(([name, value]) => ({ name: name!, value: value! }))

export const args: TextEntry[] = [
  { name: 'page', value: '2' },
  { name: 'sort', value: 'created_at' },
  { name: 'debug' },
]

export const reqCall: HTTPReqCallRequest = {
  id: 12345,
  srcIp: Buffer.from([203, 0, 113, 7]),
  method: 2,
  path: '/v1/orders/42/items',
  args,
  headers,
  confToken: 7,
}

/** The same request with its headers as Node's rawHeaders (original case). */
export const reqCallLines: HTTPReqCallRequest = {
  ...reqCall,
  headers: { lines: headers.flatMap(({ name, value }) => [(name as string).replace(/^./, (c) => c.toUpperCase()), value as string]) },
}
