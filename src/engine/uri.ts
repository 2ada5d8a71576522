// Paths as nginx treats them (protocol.md §4.2, §5.3). Everything here works on binary
// strings (one char per byte): a decoded path may hold any bytes, not only UTF-8.

const HEX = '0123456789ABCDEF'

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48
  const lower = code | 32
  if (lower >= 97 && lower <= 102) return lower - 87
  return -1
}

/** Decodes %XX escapes into bytes; a malformed escape stays as it is. */
export function percentDecode(text: string, plusIsSpace = false): string {
  if (text.indexOf('%') < 0 && !(plusIsSpace && text.indexOf('+') >= 0)) return text
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 37 && i + 2 < text.length) {
      const hi = hexValue(text.charCodeAt(i + 1))
      const lo = hexValue(text.charCodeAt(i + 2))
      if (hi >= 0 && lo >= 0) {
        out += String.fromCharCode((hi << 4) | lo)
        i += 2
        continue
      }
    }
    out += plusIsSpace && c === 43 ? ' ' : text[i]
  }
  return out
}

/**
 * nginx's `$uri`: the request path decoded, with runs of slashes merged and `.`/`..`
 * segments resolved (a `..` above the root stays at the root).
 */
export function normalizePath(rawPath: string): string {
  const decoded = percentDecode(rawPath)
  if (decoded.indexOf('//') < 0 && decoded.indexOf('/.') < 0) return decoded
  const out: string[] = []
  const segments = decoded.split('/')
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!
    const last = i === segments.length - 1
    if (segment === '..') {
      out.pop()
      if (last) out.push('')
    } else if (segment === '.') {
      if (last) out.push('')
    } else if (segment !== '' || last) {
      out.push(segment)
    }
  }
  return '/' + out.join('/')
}

// NGX_ESCAPE_URI of nginx ≥ 1.21.1: controls, space, " # % < > ? \ ^ ` { | } and 0x7F–0xFF.
const escapeInPath = new Uint8Array(256)
for (let c = 0; c < 256; c++) escapeInPath[c] = c <= 0x20 || c >= 0x7f || '"#%<>?\\^`{|}'.includes(String.fromCharCode(c)) ? 1 : 0

/** A path from a Rewrite made into an upstream URI the way APISIX does (protocol.md §5.3). */
export function escapePath(path: string): string {
  return escapeBytes(path, escapeInPath)
}

// ngx.escape_uri (query components): everything but ALPHA DIGIT - . _ ~ is escaped.
const escapeInArg = new Uint8Array(256)
for (let c = 0; c < 256; c++) escapeInArg[c] = /[A-Za-z0-9\-._~]/.test(String.fromCharCode(c)) ? 0 : 1

/** One query-string component, escaped as `ngx.encode_args` does. */
export function escapeArg(text: string): string {
  return escapeBytes(text, escapeInArg)
}

/** `%XX` (upper-case hex) for every byte the table marks; the rest copied as is. */
function escapeBytes(text: string, escape: Uint8Array): string {
  let out = ''
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) & 0xff
    if (escape[c] === 0) continue
    out += text.slice(start, i) + '%' + HEX[c >> 4] + HEX[c & 15]
    start = i + 1
  }
  return start === 0 ? text : out + text.slice(start)
}
