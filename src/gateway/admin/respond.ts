// APISIX's Admin API answers: JSON bodies ending with a newline (core.response.exit), and the
// `X-API-VERSION: v3` header its clients look for.
import type { ServerResponse } from 'node:http'

/** One answer: a status and a JSON body, or a plain text one (`done`). */
export interface Reply {
  readonly status: number
  readonly body: unknown
  /** Send `body` as it is (a string), not as JSON. */
  readonly text?: boolean
}

export function reply(status: number, body: unknown): Reply {
  return { status, body }
}

/** `{"error_msg": …}`, APISIX's shape for every refusal but 404 of a key. */
export function failure(status: number, message: string): Reply {
  return { status, body: { error_msg: message } }
}

export const KEY_NOT_FOUND: Reply = { status: 404, body: { message: 'Key not found' } }

export function send(res: ServerResponse, answer: Reply, close = false): void {
  const text = answer.text === true ? String(answer.body) : JSON.stringify(answer.body) + '\n'
  const headers: Record<string, string | number> = {
    'content-type': answer.text === true ? 'text/plain' : 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-api-version': 'v3',
  }
  // A request whose body was not read to its end cannot leave the connection reusable.
  if (close) headers.connection = 'close'
  res.writeHead(answer.status, headers)
  res.end(text)
}
