// Query arguments as OpenResty parses and writes them (protocol.md §4.2, §5.3).
// Names and values are binary strings, decoded (`+` is a space); a bare key (`?z`) has the
// value `true`, as `ngx.req.get_uri_args()` gives it.
import type { TextEntry } from '../protocol/index.js'
import { escapeArg, percentDecode } from './uri.js'

export interface Arg {
  readonly name: string
  readonly value: string | true
}

/** `xx=y&xx=z&&y=&&z` → xx=y, xx=z, y='', z=true. Empty segments are skipped. */
export function parseArgs(query: string): Arg[] {
  const args: Arg[] = []
  if (query === '') return args
  for (const segment of query.split('&')) {
    if (segment === '') continue
    const eq = segment.indexOf('=')
    if (eq < 0) args.push({ name: percentDecode(segment, true), value: true })
    else if (eq > 0) args.push({ name: percentDecode(segment.slice(0, eq), true), value: percentDecode(segment.slice(eq + 1), true) })
  }
  return args
}

/** Back to a query string, repeated keys kept, a bare key written bare. */
export function encodeArgs(args: readonly Arg[]): string {
  let query = ''
  for (const { name, value } of args) {
    if (query !== '') query += '&'
    query += value === true ? escapeArg(name) : `${escapeArg(name)}=${escapeArg(value)}`
  }
  return query
}

/** The first value of `name`; undefined when absent. */
export function argValue(args: readonly Arg[], name: string): string | true | undefined {
  for (const arg of args) if (arg.name === name) return arg.value
  return undefined
}

/** As the runner receives them: one entry per value, a bare key without value. */
export function argsToEntries(args: readonly Arg[]): TextEntry[] {
  return args.map(({ name, value }) => (value === true ? { name } : { name, value }))
}

/**
 * Applies a Rewrite's `args` (protocol.md §5.3 step 5): an entry without value removes the
 * key; a key already set by this Rewrite gets the value appended; otherwise the key is
 * replaced by this single value. Keys keep their first position; new keys go last.
 */
export function rewriteArgs(current: readonly Arg[], entries: readonly { name: string; value: string | undefined }[]): Arg[] {
  const byName = new Map<string, Array<string | true>>()
  for (const { name, value } of current) {
    const values = byName.get(name)
    if (values) values.push(value)
    else byName.set(name, [value])
  }
  const setHere = new Set<string>()
  for (const { name, value } of entries) {
    if (value === undefined) {
      byName.delete(name)
      setHere.delete(name)
    } else if (setHere.has(name)) {
      byName.get(name)!.push(value)
    } else {
      byName.set(name, [value])
      setHere.add(name)
    }
  }
  const out: Arg[] = []
  for (const [name, values] of byName) for (const value of values) out.push({ name, value })
  return out
}
