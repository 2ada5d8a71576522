// One table of every error this library raises. Codes are stable: match on `err.code`,
// never on the message. Messages mirror APISIX's error texts where APISIX has one
// (protocol.md §7) so that logs read the same on both gateways.

export const ErrorCode = {
  /** A route or plugin configuration failed its schema; `path` names the field. */
  INVALID_CONFIG: 'EXT_ERR_INVALID_CONFIG',
  /** createExtPlugin() options are invalid. */
  INVALID_OPTIONS: 'EXT_ERR_INVALID_OPTIONS',
  /** A `_meta.filter` rule does not compile (lua-resty-expr's message). */
  INVALID_FILTER: 'EXT_ERR_INVALID_FILTER',
  /** A frame payload over 16 777 215 bytes was refused before sending. */
  PAYLOAD_TOO_LARGE: 'EXT_ERR_PAYLOAD_TOO_LARGE',
  /** The runner's socket could not be connected. */
  CONNECT: 'EXT_ERR_CONNECT',
  /** Connecting took longer than `connectTimeout`. */
  CONNECT_TIMEOUT: 'EXT_ERR_CONNECT_TIMEOUT',
  /** The runner closed the connection mid-call (short header, truncated payload). */
  SOCKET_CLOSED: 'EXT_ERR_SOCKET_CLOSED',
  /** Any other socket failure while sending or receiving. */
  SOCKET: 'EXT_ERR_SOCKET',
  /** The call took longer than `callTimeout`. */
  TIMEOUT: 'EXT_ERR_TIMEOUT',
  /** The caller's AbortSignal fired. */
  ABORTED: 'EXT_ERR_ABORTED',
  /** The runner answered RPC_ERROR (`runnerCode` says which). */
  RUNNER_REPLIED_ERROR: 'EXT_ERR_RUNNER_REPLIED_ERROR',
  /** The runner answered RPC_ERROR CONF_TOKEN_NOT_FOUND on every attempt. */
  CONF_TOKEN_NOT_FOUND: 'EXT_ERR_CONF_TOKEN_NOT_FOUND',
  /** The runner's final frame had the wrong type for the call. */
  UNEXPECTED_TYPE: 'EXT_ERR_UNEXPECTED_TYPE',
  /** A payload that is not a valid message: empty, malformed FlatBuffer, missing name. */
  BAD_MESSAGE: 'EXT_ERR_BAD_MESSAGE',
  /** The runner asked an ExtraInfo question the protocol does not define. */
  UNSUPPORTED_INFO: 'EXT_ERR_UNSUPPORTED_INFO',
  /** The HTTP method has no code in the protocol (CONNECT, custom verbs). */
  UNSUPPORTED_METHOD: 'EXT_ERR_UNSUPPORTED_METHOD',
  /** The runner process could not be started or stopped listening before it was ready. */
  RUNNER_START: 'EXT_ERR_RUNNER_START',
  /** The client or ExtPlugin was closed; no new calls are accepted. */
  CLOSED: 'EXT_ERR_CLOSED',
  /** A request body the runner asked for is larger than `maxBodySize`. */
  BODY_TOO_LARGE: 'EXT_ERR_BODY_TOO_LARGE',
  /** The runner's reply carried another call's id (a late or duplicate answer). */
  CALL_ID_MISMATCH: 'EXT_ERR_CALL_ID_MISMATCH',
  /** The runner asked more ExtraInfo questions in one call than `maxExtraInfoRounds`. */
  EXTRA_INFO_ROUNDS: 'EXT_ERR_EXTRA_INFO_ROUNDS',
  /** The runner does not read: bytes waiting for it would exceed `maxQueuedBytes`. */
  WRITE_QUEUE_FULL: 'EXT_ERR_WRITE_QUEUE_FULL',
  /** A runner answer that cannot be applied: a status outside 200–599, more headers than `maxHeaders`. */
  INVALID_ANSWER: 'EXT_ERR_INVALID_ANSWER',
  /** Every try to reach an upstream node failed to connect or was reset (answered 502). */
  UPSTREAM_UNREACHABLE: 'EXT_ERR_UPSTREAM_UNREACHABLE',
  /** The last try hit the upstream's connect or read timeout (answered 504). */
  UPSTREAM_TIMEOUT: 'EXT_ERR_UPSTREAM_TIMEOUT',
  /** A retry would start after the upstream's `retry_timeout` (answered 502). */
  UPSTREAM_RETRY_TIMEOUT: 'EXT_ERR_UPSTREAM_RETRY_TIMEOUT',
  /** An upstream body that had to be read whole is larger than the limit (answered 502). */
  UPSTREAM_BODY_TOO_LARGE: 'EXT_ERR_UPSTREAM_BODY_TOO_LARGE',
  /** The upstream has no nodes (`nodes: {}` or `[]`): answered 503, log `no valid upstream node`. */
  UPSTREAM_NO_NODES: 'EXT_ERR_UPSTREAM_NO_NODES',
  /** A node's domain name did not resolve: answered 500 (inline upstream) or 502 (`upstream_id`), as APISIX. */
  UPSTREAM_DNS: 'EXT_ERR_UPSTREAM_DNS',
  /** An etcd request failed: unreachable, past the source's `timeout`, refused (auth). The cause is the client's error. */
  ETCD: 'EXT_ERR_ETCD',
  /** A value written to etcd that the local gateway refused when it came back through the watch (a concurrent write made it invalid). */
  ETCD_REFUSED: 'EXT_ERR_ETCD_REFUSED',
  /** adminApi() / listenAdmin() options are invalid: no key (there is no default), an empty key, a viewer key equal to the admin key. */
  ADMIN_OPTIONS: 'EXT_ERR_ADMIN_OPTIONS',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export class ExtPluginError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  override get name(): string {
    return this.constructor.name
  }
}

/** A configuration that does not match its schema. */
export class ConfigError extends ExtPluginError {
  /** The plugin whose configuration failed, when there is one. */
  readonly plugin: string | undefined
  /** JSON pointer of the offending field within that configuration, e.g. `/conf/0/name`. */
  readonly path: string

  constructor(code: ErrorCode, message: string, path: string, plugin?: string) {
    super(code, message)
    this.path = path
    this.plugin = plugin
  }
}

/** What the gateway was doing when a call failed; it names the step in the message. */
export type RpcStep = 'connect' | 'send' | 'receive' | 'reply' | 'handle'

/**
 * A failed exchange with the runner. The message reads like APISIX's
 * (`failed to receive RPC_HTTP_REQ_CALL: closed`,
 * `failed to connect to the unix socket unix:/p.sock: no such file or directory`);
 * `reason` is the part after the last colon.
 */
export class RpcError extends ExtPluginError {
  readonly step: RpcStep
  /** The message type being exchanged, e.g. `RPC_PREPARE_CONF`; for `connect`, the address. */
  readonly rpc: string
  readonly reason: string
  /** The A6.Err.Code the runner sent, for RUNNER_REPLIED_ERROR and CONF_TOKEN_NOT_FOUND. */
  readonly runnerCode: number | undefined

  constructor(
    code: ErrorCode,
    step: RpcStep,
    rpc: string,
    reason: string,
    options?: { cause?: unknown; runnerCode?: number },
  ) {
    const what = step === 'connect' ? `connect to the unix socket ${rpc}` : `${step} ${rpc}`
    super(code, `failed to ${what}: ${reason}`, options)
    this.step = step
    this.rpc = rpc
    this.reason = reason
    this.runnerCode = options?.runnerCode
  }
}

/** The runner process failed to start, or exited before it listened. */
export class RunnerStartError extends ExtPluginError {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null

  constructor(message: string, exit?: { code: number | null; signal: NodeJS.Signals | null }, cause?: unknown) {
    super(ErrorCode.RUNNER_START, message, { cause })
    this.exitCode = exit?.code ?? null
    this.signal = exit?.signal ?? null
  }
}

export function isExtPluginError(err: unknown): err is ExtPluginError {
  return err instanceof ExtPluginError
}
