// The page APISIX's nginx sends when it ends a request with a status and no body
// (apisix-config.md §5.6): openresty's template plus APISIX's "Powered by" line, CRLF line
// ends, typed text/html; charset=utf-8. Used for what the gateway itself answers (502, 503,
// 504, 500); a plugin's bodiless status keeps the engine's page.
import { HeaderList } from '../engine/headers.js'

// nginx's reason phrases, where they differ from the common ones.
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
}

const pages = new Map<number, Buffer>()

export function apisixErrorPage(status: number): Buffer {
  let page = pages.get(status)
  if (page === undefined) {
    const title = REASONS[status] === undefined ? String(status) : `${status} ${REASONS[status]}`
    page = Buffer.from(
      `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>openresty</center>\r\n` +
        `<p><em>Powered by <a href="https://apisix.apache.org/">APISIX</a>.</em></p></body>\r\n</html>\r\n`,
    )
    pages.set(status, page)
  }
  return page
}

/** Headers of such a page (a fresh list: callers add to it). */
export function errorPageHeaders(): HeaderList {
  const headers = new HeaderList()
  headers.set('content-type', 'text/html; charset=utf-8')
  return headers
}
