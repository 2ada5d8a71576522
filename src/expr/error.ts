import { ConfigError, ErrorCode } from '../errors.js'

// APISIX prefixes lua-resty-expr's messages with this when it validates `_meta.filter`.
const PREFIX = "failed to validate the 'vars' expression: "

/**
 * The error for a rule that does not compile. `path` is a JSON pointer into the rule
 * (`/1/2` = third element of the second element); it is repeated in the message.
 */
export function invalidFilter(reason: string, path: string): ConfigError {
  const where = path === '' ? '' : ` at ${path}`
  return new ConfigError(ErrorCode.INVALID_FILTER, `${PREFIX}${reason}${where}`, path)
}
