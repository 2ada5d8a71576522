// The Admin API's options and their checks. There is no default key: an Admin API without one
// refuses to start, so a forgotten setting cannot leave the configuration writable by anyone
// who reaches the port.
import { ConfigError, ErrorCode } from '../../errors.js'
import { digestOf, type Keys } from './auth.js'

export interface AdminApiOptions {
  /** The admin key (role admin: every method). Required; there is no default. */
  readonly key: string
  /** A second key for the viewer role: GET only (APISIX's `role: viewer`). */
  readonly viewerKey?: string
  /**
   * Also take the key from the query (`?api_key=`) and the cookie `x_api_key`, as APISIX
   * does. Off by default: a key in a URL ends up in access logs and browser history.
   */
  readonly allowKeyInQueryAndCookie?: boolean
}

export interface ListenAdminOptions extends AdminApiOptions {
  /** Default 9180 (APISIX's Admin API port); 0 picks a free one. */
  readonly port?: number
  /** Default 127.0.0.1: the Admin API is reachable from other hosts only when told so. */
  readonly host?: string
}

export function adminKeys(options: AdminApiOptions | undefined): Keys {
  const key = options?.key as unknown
  if (typeof key !== 'string' || key === '') {
    throw invalid('an Admin API needs a key (options.key): there is no default key', 'key')
  }
  const viewer = options?.viewerKey as unknown
  if (viewer !== undefined && (typeof viewer !== 'string' || viewer === '')) throw invalid('options.viewerKey must be a non-empty string', 'viewerKey')
  if (viewer === key) throw invalid('options.viewerKey must differ from options.key', 'viewerKey')
  return {
    admin: digestOf(key),
    viewer: typeof viewer === 'string' ? digestOf(viewer) : undefined,
    queryAndCookie: options?.allowKeyInQueryAndCookie === true,
  }
}

function invalid(message: string, path: string): ConfigError {
  return new ConfigError(ErrorCode.ADMIN_OPTIONS, message, path)
}
