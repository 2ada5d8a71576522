// nginx answers a ≥ 300 status that has no body with a small HTML page (protocol.md §5.2,
// §7): a runner's `Stop{status=403}` or the 503 of a failed call reach APISIX's clients so.
import { HeaderList } from './headers.js'
import type { FinalResponse } from './plugin.js'

// nginx's own wording where it differs from node:http's STATUS_CODES.
const nginxReasons: Record<number, string> = {
  302: 'Found',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Large',
  416: 'Requested Range Not Satisfiable',
  503: 'Service Temporarily Unavailable',
}

export function errorPage(status: number): Buffer {
  const reason = nginxReasons[status] ?? httpReason(status)
  const title = reason === '' ? String(status) : `${status} ${reason}`
  return Buffer.from(
    `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>apisix-ext-plugin</center>\r\n</body>\r\n</html>\r\n`,
  )
}

/** Gives a bodiless ≥ 300 response (not 304) nginx's page, typed text/html. */
export function withErrorPage(response: FinalResponse): FinalResponse {
  if (response.body !== undefined || response.status < 300 || response.status === 304) return response
  const headers = response.headers.has('content-type') ? response.headers : response.headers.clone()
  if (!headers.has('content-type')) headers.set('content-type', 'text/html')
  return { status: response.status, headers, body: errorPage(response.status) }
}

function httpReason(status: number): string {
  return STATUS_REASONS[status] ?? ''
}

// A few common reasons, to avoid importing node:http into the engine.
const STATUS_REASONS: Record<number, string> = {
  300: 'Multiple Choices', 301: 'Moved Permanently', 303: 'See Other', 307: 'Temporary Redirect',
  308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required',
  403: 'Forbidden', 404: 'Not Found', 405: 'Not Allowed', 406: 'Not Acceptable', 408: 'Request Time-out',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 415: 'Unsupported Media Type',
  418: "I'm a teapot", 429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 504: 'Gateway Time-out', 505: 'HTTP Version Not Supported',
}
