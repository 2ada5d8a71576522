// What each channel's subscribers receive (README "Observability: diagnostics channels").
// Publishers build these objects only when a channel has subscribers.
import type { Phase } from '../engine/plugin.js'
import type { CallOutcome } from './stats.js'

/** The message a runner call sends. */
export type RunnerCallMessage = 'RPC_HTTP_REQ_CALL' | 'RPC_HTTP_RESP_CALL'

/**
 * The context of one `apisix-ext-plugin:runner-call` trace: the same object is passed to
 * start, end, asyncStart, asyncEnd and error, and is filled in as the call goes (a span
 * is opened at start and closed at asyncEnd). `error` and `result` are set by
 * diagnostics_channel itself; the counters are final from asyncStart on. The retries
 * after `conf token not found` belong to the same call.
 */
export interface RunnerCallContext {
  /** The phase the calling plugin runs in. */
  readonly phase: Phase
  /** The route (or service, consumer, global rule…) id the plugin belongs to; undefined outside any route. */
  readonly route: string | undefined
  /** `ext-plugin-pre-req`, `ext-plugin-post-req` or `ext-plugin-post-resp`; undefined for a direct client call. */
  readonly plugin: string | undefined
  /** The conf token key, `<conf_type>#<id>#<plugin>#<version>`. */
  readonly confKey: string
  /** The runner plugins of the conf, in order (`conf[].name`). */
  readonly names: readonly string[]
  readonly messageType: RunnerCallMessage
  /** ExtraInfo questions the runner asked and were answered. */
  extraInfoRounds: number
  /** Frame bytes written to the runner, headers included, over every attempt. */
  bytesSent: number
  /** Frame bytes read from the runner, headers included, over every attempt. */
  bytesReceived: number
  /** Attempts made (more than 1 after `conf token not found`). */
  attempts: number
  /** What the runner answered: `ok` (nothing to change), `stop` (HTTPReqCall only), `rewrite` (changes); undefined on error. */
  outcome: CallOutcome | undefined
  /** The error's stable code (`EXT_ERR_…`) when the call failed. */
  code: string | undefined
  /** Set by diagnostics_channel when the call failed. */
  error?: unknown
  /** Set by diagnostics_channel when the call succeeded: the decoded answer. */
  result?: unknown
}

/** `apisix-ext-plugin:prepare-conf`: one PrepareConf exchange, published when it ends. */
export interface PrepareConfContext {
  readonly key: string
  readonly names: readonly string[]
  /** The conf token the runner gave; undefined on error. */
  readonly token: number | undefined
  /** Milliseconds from sending the request to decoding the answer (or failing). */
  readonly duration: number
  readonly error: unknown
  /** The error's stable code when it failed. */
  readonly code: string | undefined
}

/** `apisix-ext-plugin:runner-spawn`: a runner process was started. */
export interface RunnerSpawnContext {
  /** Undefined when the spawn itself failed (no such file). */
  readonly pid: number | undefined
  readonly cmd: readonly string[]
  /** The socket path the runner is told to listen on. */
  readonly socketPath: string
  /** 1 for the first spawn, then 2, 3… for respawns. */
  readonly spawns: number
}

/** `apisix-ext-plugin:runner-exit`: a runner process exited (closing included). */
export interface RunnerExitContext {
  readonly pid: number | undefined
  readonly cmd: readonly string[]
  /** Exit status, null when killed by a signal. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** True when the library stopped it (close/destroy): no respawn follows. */
  readonly expected: boolean
}

/** `apisix-ext-plugin:runner-respawn`: after an exit, a new runner is started `delay` ms later. */
export interface RunnerRespawnContext {
  /** The pid of the runner that exited. */
  readonly pid: number | undefined
  readonly cmd: readonly string[]
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Milliseconds until the new spawn. */
  readonly delay: number
}

/** `apisix-ext-plugin:degradation`: a runner failure passed the request on (allow_degradation). */
export interface DegradationContext {
  readonly route: string | undefined
  readonly plugin: string
  readonly phase: Phase
  /** The failure's stable code. */
  readonly code: string | undefined
  readonly error: unknown
}

/** `apisix-ext-plugin:config-reload`: the gateway tried a new configuration. */
export interface ConfigReloadContext {
  /** Where it came from: `file`, `etcd`, `memory`, `admin`, `update`… */
  readonly source: string
  readonly ok: boolean
  /** Why it was refused (the previous configuration stays); undefined when ok. */
  readonly error: unknown
  /** Routes in the configuration now served (the previous one when refused). */
  readonly routes: number
}
