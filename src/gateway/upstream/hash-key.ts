// The chash key of a request (apisix-config.md §5.2): from the variable, header, cookie or
// consumer `hash_on` names, or a `vars_combinations` template; a missing value falls back to
// the client address, as APISIX does.
import type { UpstreamModel } from './model.js'

export interface HashKeySource {
  readonly remoteAddr: string
  /** An nginx variable (`uri`, `host`, `arg_x`, …); the caller's variable resolver. */
  readonly variable?: (name: string) => string | undefined
  readonly header?: (name: string) => string | undefined
  readonly cookie?: (name: string) => string | undefined
  readonly consumerName?: string
}

export function hashKeyFor(model: UpstreamModel, source: HashKeySource): string {
  if (model.type !== 'chash') return ''
  const key = model.key ?? ''
  let value: string | undefined
  switch (model.hashOn) {
    case 'vars':
      value = source.variable?.(key)
      break
    case 'header':
      value = source.header?.(key)
      break
    case 'cookie':
      value = source.cookie?.(key)
      break
    case 'consumer':
      value = source.consumerName
      break
    case 'vars_combinations':
      // A template of variables, `$host$uri`; an unset variable is empty.
      value = key.replace(/\$\{?([A-Za-z0-9_]+)\}?/g, (_, name: string) => source.variable?.(name) ?? '')
      break
  }
  return value === undefined || value === '' ? source.remoteAddr : value
}
