// What APISIX tells the runner through its environment (protocol.md §8):
// APISIX_LISTEN_ADDRESS (`unix:/path`) and APISIX_CONF_EXPIRE_TIME (seconds).
import { ErrorCode, ExtPluginError } from '../errors.js'

export const LISTEN_ADDRESS_ENV = 'APISIX_LISTEN_ADDRESS'
export const CONF_EXPIRE_TIME_ENV = 'APISIX_CONF_EXPIRE_TIME'

/** APISIX's constant value of APISIX_CONF_EXPIRE_TIME. */
export const DEFAULT_CONF_EXPIRE_TIME = 3600

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107

function invalid(message: string): ExtPluginError {
  return new ExtPluginError(ErrorCode.INVALID_OPTIONS, message)
}

/** The filesystem path of a `unix:` address; `source` names where the address came from. */
export function socketPathOf(address: string | undefined, source: string): string {
  if (address === undefined || address === '') {
    throw invalid(`${source} is not set: the runner needs a unix socket address such as unix:/tmp/runner.sock`)
  }
  if (!address.startsWith('unix:') || address.length === 5) {
    throw invalid(`${source} must be a unix socket address such as unix:/tmp/runner.sock, got ${JSON.stringify(address)}`)
  }
  const path = address.slice(5)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw invalid(`${source}: the socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes`)
  }
  return path
}

/** Seconds from APISIX_CONF_EXPIRE_TIME; unset means APISIX's 3600. */
export function confExpireTimeOf(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_CONF_EXPIRE_TIME
  const seconds = Number(value)
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw invalid(`${CONF_EXPIRE_TIME_ENV} must be a positive number of seconds, got ${JSON.stringify(value)}`)
  }
  return seconds
}

export function checkConfExpireTime(seconds: number): number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw invalid(`confExpireTime must be a positive number of seconds, got ${String(seconds)}`)
  }
  return seconds
}
