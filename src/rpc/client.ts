// The gateway's side of the conversation with one runner (protocol.md §4, §6, §7):
// conf tokens (cached, prepared once per config version), HTTPReqCall and HTTPRespCall
// with their ExtraInfo rounds, and the retry on `conf token not found`. Deciding what a
// failure means for the HTTP request (503, degradation) is the engine's business, not this.
import { prepareConfChannel, runnerCallChannel, runnerCallTraced } from '../diagnostics/channels.js'
import type { RunnerCallContext } from '../diagnostics/contexts.js'
import { failureCode, RunnerCounters, type CallOutcome } from '../diagnostics/stats.js'
import type { Phase } from '../engine/plugin.js'
import { ErrorCode, ExtPluginError, RpcError } from '../errors.js'
import { silentLogger, type Logger } from '../logger.js'
import {
  MessageType,
  decodeHTTPReqCallResponse,
  decodeHTTPRespCallResponse,
  decodePrepareConfResponse,
  encodePrepareConfRequest,
  CALL_ID_WRAP,
  binaryToUtf8,
  messageTypeName,
  type DecodedHTTPReqCallResponse,
  type DecodedTextEntry,
  type HTTPReqCallRequest,
  type HTTPRespCallResponse,
  type TextEntry,
} from '../protocol/index.js'
import type { RunnerConnection } from './connection.js'
import { emptyExtraInfo, type ExtraInfoSource } from './extra-info.js'
import { encodeReqCall } from '../protocol/messages/req-call-writer.js'
import { encodeRespCall, type RespCallFields } from '../protocol/messages/resp-call-writer.js'
import { ConnectionPool, type PoolStats } from './pool.js'
import { TokenCache } from './token-cache.js'

export interface RunnerClientOptions {
  /** Filesystem path of the runner's Unix socket (no `unix:` prefix). */
  readonly socketPath: string
  /** Milliseconds to connect before failing with CONNECT_TIMEOUT. Default 1000. */
  readonly connectTimeout?: number | undefined
  /** Milliseconds for one whole call, ExtraInfo rounds included. Default 60000. */
  readonly callTimeout?: number | undefined
  /** Idle connections kept for reuse. Default 32. */
  readonly maxIdleConnections?: number | undefined
  /** Milliseconds an idle connection is kept. Default 180000. */
  readonly idleTimeout?: number | undefined
  /** Seconds a conf token is trusted; the runner is told the same. Default 3600. */
  readonly confExpireTime?: number | undefined
  /** Conf tokens kept at most. Default 1024. */
  readonly tokenCacheSize?: number | undefined
  /** Runner connections open at once; more calls wait their turn. Default 64. */
  readonly maxConnections?: number | undefined
  /** Bytes written and not yet read by the runner, over all connections. Default 32 MiB. */
  readonly maxQueuedBytes?: number | undefined
  /** ExtraInfo questions answered per call at most. Default 128. */
  readonly maxExtraInfoRounds?: number | undefined
  readonly logger?: Logger | undefined
  /** Where calls are counted (ExtPlugin passes the counters behind `ext.stats()`). Default: the client's own. */
  readonly counters?: RunnerCounters | undefined
}

/** One runner-side configuration: an ext-plugin instance at one config version. */
export interface RunnerConf {
  /** `<conf_type>#<conf_id>#<plugin_name>#<conf_version>`, e.g. `route#1#ext-plugin-pre-req#3`. */
  readonly key: string
  /** The plugins for the runner, in order; undefined when the plugin config has no `conf`. */
  readonly conf?: readonly TextEntry[] | undefined
  // Who makes the calls, for ext.stats() and the diagnostics channels; set once per config
  // version by the ext-plugin-* plugins, so that no call allocates to say it.
  /** The route (or global rule…) id. */
  readonly route?: string | undefined
  /** `ext-plugin-pre-req`, `ext-plugin-post-req` or `ext-plugin-post-resp`. */
  readonly plugin?: string | undefined
  /** Default: rewrite for HTTPReqCall, response for HTTPRespCall. */
  readonly phase?: Phase | undefined
  /** `conf[].name` as text; default: decoded from `conf` when a subscriber needs it. */
  readonly names?: readonly string[] | undefined
}

export interface CallSettings {
  readonly signal?: AbortSignal | undefined
  /** Overrides the client's callTimeout for this call. */
  readonly timeout?: number | undefined
}

export type ReqCallRequest = Omit<HTTPReqCallRequest, 'id' | 'confToken'>
export type RespCallRequest = RespCallFields

/** APISIX makes at most 3 attempts, all but the last ending in `conf token not found`. */
const MAX_ATTEMPTS = 3

export class RunnerClient {
  readonly #pool: ConnectionPool
  readonly #tokens: TokenCache
  readonly #logger: Logger
  readonly #counters: RunnerCounters
  readonly #callTimeout: number
  readonly #maxRounds: number
  /** Never 0: the Python runner rejects call id 0 (and its answer then reads as "no action"). */
  #nextId = 1
  #inFlight = 0
  #drained: (() => void) | undefined
  #closed = false
  #prepares = 0

  constructor(options: RunnerClientOptions) {
    this.#logger = options.logger ?? silentLogger
    this.#counters = options.counters ?? new RunnerCounters()
    this.#callTimeout = options.callTimeout ?? 60_000
    this.#maxRounds = options.maxExtraInfoRounds ?? 128
    this.#pool = new ConnectionPool({
      path: options.socketPath,
      connectTimeout: options.connectTimeout ?? 1000,
      maxIdle: options.maxIdleConnections ?? 32,
      idleTimeout: options.idleTimeout ?? 180_000,
      maxConnections: options.maxConnections ?? 64,
      maxQueuedBytes: options.maxQueuedBytes ?? 32 * 1024 * 1024,
    })
    this.#tokens = new TokenCache({
      max: options.tokenCacheSize ?? 1024,
      ttl: (options.confExpireTime ?? 3600) * 1000,
    })
  }

  /** Counters for tests and monitoring. */
  get stats(): PoolStats & {
    readonly prepareConfs: number
    readonly tokens: number
    readonly inFlight: number
    readonly queuedBytes: number
  } {
    const pool = this.#pool
    return { ...pool.stats, prepareConfs: this.#prepares, tokens: this.#tokens.size, inFlight: this.#inFlight, queuedBytes: pool.queuedBytes }
  }

  /** The conf token for `conf`, from the cache or a new PrepareConf. */
  async prepareConf(conf: RunnerConf, settings?: CallSettings): Promise<number> {
    this.#enter()
    try {
      this.#countLookup(conf.key)
      return await this.#token(conf, settings)
    } finally {
      this.#leave()
    }
  }

  httpReqCall(
    conf: RunnerConf,
    request: ReqCallRequest,
    extra: ExtraInfoSource = emptyExtraInfo,
    settings?: CallSettings,
  ): Promise<DecodedHTTPReqCallResponse> {
    return this.#traced(MessageType.RPC_HTTP_REQ_CALL, conf, request, extra, settings) as Promise<DecodedHTTPReqCallResponse>
  }

  httpRespCall(
    conf: RunnerConf,
    response: RespCallRequest,
    extra: ExtraInfoSource = emptyExtraInfo,
    settings?: CallSettings,
  ): Promise<HTTPRespCallResponse<DecodedTextEntry>> {
    return this.#traced(MessageType.RPC_HTTP_RESP_CALL, conf, response, extra, settings) as Promise<HTTPRespCallResponse<DecodedTextEntry>>
  }

  /** Forgets every conf token (the runner restarted, or lost them). */
  flushTokens(): void {
    this.#tokens.flush()
  }

  /** Stops accepting calls, waits for those in flight, then closes every connection. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    this.#pool.destroy()
  }

  /** Closes everything now; calls in flight fail with CLOSED. */
  destroy(): void {
    this.#closed = true
    this.#pool.destroy(new ExtPluginError(ErrorCode.CLOSED, 'the runner client was destroyed'))
  }

  #enter(): void {
    if (this.#closed) throw new ExtPluginError(ErrorCode.CLOSED, 'the runner client is closed')
    this.#inFlight++
  }

  #leave(): void {
    if (--this.#inFlight === 0) this.#drained?.()
  }

  #countLookup(key: string): void {
    if (this.#tokens.peek(key) === undefined) this.#counters.tokenMisses++
    else this.#counters.tokenHits++
  }

  #callId(): number {
    const id = this.#nextId
    this.#nextId = followingCallId(id)
    return id
  }

  #token(conf: RunnerConf, settings: CallSettings | undefined): Promise<number> {
    const token = this.#tokens.get(conf.key, () => this.#prepare(conf, settings))
    return typeof token === 'number' ? Promise.resolve(token) : withSignal(token, settings?.signal, 'RPC_PREPARE_CONF')
  }

  async #prepare(conf: RunnerConf, settings: CallSettings | undefined): Promise<number> {
    this.#prepares++
    const started = performance.now()
    try {
      // Shared by every caller waiting on this key: one caller's abort must not cancel it.
      const shared = settings?.timeout === undefined ? undefined : { timeout: settings.timeout }
      const frame = encodeFor(MessageType.RPC_PREPARE_CONF, () => encodePrepareConfRequest({ key: conf.key, conf: conf.conf }))
      const { confToken } = await this.#exchange(MessageType.RPC_PREPARE_CONF, frame, undefined, shared, decodePrepareConfResponse, -1, undefined, -1)
      this.#logger.info({ key: conf.key }, 'successfully obtained conf token.')
      this.#counters.prepareConfOk++
      if (prepareConfChannel.hasSubscribers) {
        prepareConfChannel.publish({ key: conf.key, names: namesOf(conf), token: confToken, duration: performance.now() - started, error: undefined, code: undefined })
      }
      return confToken
    } catch (err) {
      this.#counters.prepareConfError++
      if (prepareConfChannel.hasSubscribers) {
        prepareConfChannel.publish({ key: conf.key, names: namesOf(conf), token: undefined, duration: performance.now() - started, error: err, code: failureCode(err) })
      }
      throw err
    }
  }

  /** A runner call inside the runner-call tracing channel, when anyone listens to it. */
  #traced(
    rpc: typeof MessageType.RPC_HTTP_REQ_CALL | typeof MessageType.RPC_HTTP_RESP_CALL,
    conf: RunnerConf,
    message: ReqCallRequest | RespCallRequest,
    extra: ExtraInfoSource,
    settings: CallSettings | undefined,
  ): Promise<unknown> {
    // Checked first: an unobserved call builds no context and no closure.
    if (!runnerCallTraced()) return this.#call(rpc, conf, message, extra, settings, undefined)
    const context = callContext(rpc, conf)
    return runnerCallChannel.tracePromise(() => this.#call(rpc, conf, message, extra, settings, context), context)
  }

  /** An HTTPReqCall or HTTPRespCall, with the retry on `conf token not found` (§7). */
  async #call(
    rpc: typeof MessageType.RPC_HTTP_REQ_CALL | typeof MessageType.RPC_HTTP_RESP_CALL,
    conf: RunnerConf,
    message: ReqCallRequest | RespCallRequest,
    extra: ExtraInfoSource,
    settings: CallSettings | undefined,
    trace: RunnerCallContext | undefined,
  ): Promise<unknown> {
    const counters = this.#counters
    const phase = phaseOf(rpc, conf)
    const started = performance.now()
    try {
      this.#enter()
    } catch (err) {
      this.#failed(phase, err, started, trace)
    }
    try {
      let lastError: unknown
      // A clock reading still current (nothing awaited since), so the usual call reads the clock twice, not three times.
      let now = started
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        if (attempt > 1) counters.confTokenRetries++
        if (trace !== undefined) trace.attempts = attempt
        try {
          // the usual case, a cached token, costs no promise
          let token = this.#tokens.peek(conf.key)
          if (token !== undefined) counters.tokenHits++
          else {
            counters.tokenMisses++
            token = await this.#token(conf, settings)
            now = -1
          }
          const id = this.#callId()
          if (rpc === MessageType.RPC_HTTP_REQ_CALL) {
            const frame = encodeFor(rpc, () => encodeReqCall(message as ReqCallRequest, id, token))
            const reply = await this.#exchange(rpc, frame, extra, settings, decodeHTTPReqCallResponse, id, trace, now)
            this.#called(phase, reqCallOutcome(reply), started, trace)
            return reply
          }
          const frame = encodeFor(rpc, () => encodeRespCall(message as RespCallRequest, id, token))
          const reply = await this.#exchange(rpc, frame, extra, settings, decodeHTTPRespCallResponse, id, trace, now)
          this.#called(phase, respCallOutcome(reply), started, trace)
          return reply
        } catch (err) {
          if ((err as ExtPluginError).code !== ErrorCode.CONF_TOKEN_NOT_FOUND) throw err
          lastError = err
          now = -1
          this.#logger.warn({ key: conf.key, code: ErrorCode.CONF_TOKEN_NOT_FOUND }, 'refresh cache and try again')
          this.flushTokens()
        }
      }
      throw lastError
    } catch (err) {
      this.#failed(phase, err, started, trace)
    } finally {
      this.#leave()
    }
  }

  #called(phase: Phase, outcome: CallOutcome, started: number, trace: RunnerCallContext | undefined): void {
    this.#counters.called(phase, outcome, performance.now() - started)
    if (trace !== undefined) trace.outcome = outcome
  }

  #failed(phase: Phase, err: unknown, started: number, trace: RunnerCallContext | undefined): never {
    const code = failureCode(err)
    this.#counters.failed(phase, code, performance.now() - started)
    if (trace !== undefined) trace.code = code
    throw err
  }

  /**
   * One request/reply on a pooled connection, decoded before the connection goes back to
   * the pool (a reply we cannot read retires it). A dead reused connection is retried once.
   * `id` is the call id the reply must carry (-1: the message has none). `now`: the
   * caller's performance.now() if nothing was awaited since, else -1 (the clock is read).
   */
  async #exchange<T>(
    rpc: number,
    frame: Buffer,
    extra: ExtraInfoSource | undefined,
    settings: CallSettings | undefined,
    decode: (payload: Buffer) => T,
    id: number,
    trace: RunnerCallContext | undefined,
    now: number,
  ): Promise<T> {
    const signal = settings?.signal
    if (signal?.aborted) throw new RpcError(ErrorCode.ABORTED, 'send', messageTypeName(rpc), 'aborted')
    const deadline = (now >= 0 ? now : performance.now()) + (settings?.timeout ?? this.#callTimeout)
    const pool = this.#pool
    let connection: RunnerConnection = pool.takeIdle() ?? (await pool.acquire(deadline, signal, messageTypeName(rpc)))
    for (;;) {
      const reused = connection.calls > 0
      // the traffic of this attempt is added once, on success or on failure
      let answered = false
      try {
        const options = { deadline, signal, extra, logger: this.#logger, maxRounds: this.#maxRounds }
        const payload = await connection.call(rpc, frame, options)
        answered = true
        if (trace !== undefined) addTraffic(trace, connection)
        const reply = decodeReply(rpc, payload, decode, connection)
        // 0 is what runners send that do not echo ids; anything else must be this call's.
        // The connection is out of step (a late duplicate of an earlier answer): retire it.
        const replyId = id >= 0 ? (reply as { readonly id: number }).id : 0
        if (replyId !== 0 && replyId !== id) {
          connection.destroy()
          const err = new RpcError(ErrorCode.CALL_ID_MISMATCH, 'receive', messageTypeName(rpc), `reply for call id ${replyId}, expected ${id}`)
          this.#logger.error({ code: err.code }, err.message)
          throw err
        }
        // PrepareConf is rare; its connection is not kept, which also keeps a runner that
        // answers it twice (the Java runner 0.4.0 does) from feeding a stray frame to the
        // next call on a reused connection.
        if (rpc === MessageType.RPC_PREPARE_CONF) connection.destroy()
        else pool.release(connection)
        return reply
      } catch (err) {
        if (trace !== undefined && !answered) addTraffic(trace, connection)
        pool.release(connection)
        const stale = reused && connection.received === 0 && (err as ExtPluginError).code === ErrorCode.SOCKET_CLOSED
        if (!stale) throw err
        this.#counters.staleRetries++
        // If the runner is gone rather than the connection, say what happened to the call.
        connection = await Promise.resolve(pool.acquire(deadline, signal, messageTypeName(rpc), true)).catch(() => Promise.reject(err))
      }
    }
  }
}

/** The call id after `id`: 1, 2, … 2^22 − 1, then 1 again; 0 is never sent. */
export function followingCallId(id: number): number {
  return id + 1 >= CALL_ID_WRAP ? 1 : id + 1
}

/** Encoding failures (a payload over 16 MiB) are send failures, worded as APISIX does. */
function encodeFor(rpc: number, encode: () => Buffer): Buffer {
  try {
    return encode()
  } catch (err) {
    if (!(err instanceof ExtPluginError)) throw err
    throw new RpcError(err.code, 'send', messageTypeName(rpc), err.message, { cause: err })
  }
}

/** Waits for a shared promise, giving up (without cancelling it) if the signal fires. */
function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, rpc: string): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(new RpcError(ErrorCode.ABORTED, 'receive', rpc, 'aborted'))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new RpcError(ErrorCode.ABORTED, 'receive', rpc, 'aborted'))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

/** Decodes a reply; one we cannot read retires its connection and fails the call. */
function decodeReply<T>(rpc: number, payload: Buffer, decode: (payload: Buffer) => T, connection: RunnerConnection): T {
  try {
    return decode(payload)
  } catch (err) {
    connection.destroy()
    const reason = `bad message: ${err instanceof Error ? err.message : String(err)}`
    throw new RpcError(ErrorCode.BAD_MESSAGE, 'receive', messageTypeName(rpc), reason, { cause: err })
  }
}

/** A fresh runner-call context (only built when the channel has subscribers). */
function callContext(rpc: number, conf: RunnerConf): RunnerCallContext {
  return {
    phase: phaseOf(rpc, conf),
    route: conf.route,
    plugin: conf.plugin,
    confKey: conf.key,
    names: namesOf(conf),
    messageType: rpc === MessageType.RPC_HTTP_REQ_CALL ? 'RPC_HTTP_REQ_CALL' : 'RPC_HTTP_RESP_CALL',
    extraInfoRounds: 0,
    bytesSent: 0,
    bytesReceived: 0,
    attempts: 0,
    outcome: undefined,
    code: undefined,
  }
}

/** The caller's phase; a direct client call without one counts as the message's usual phase. */
function phaseOf(rpc: number, conf: RunnerConf): Phase {
  return conf.phase ?? (rpc === MessageType.RPC_HTTP_REQ_CALL ? 'rewrite' : 'response')
}

function namesOf(conf: RunnerConf): readonly string[] {
  return conf.names ?? conf.conf?.map(({ name }) => (typeof name === 'string' ? binaryToUtf8(name) : Buffer.from(name).toString('utf8'))) ?? []
}

/** What one attempt wrote and read, added to the call's context. */
function addTraffic(trace: RunnerCallContext, connection: RunnerConnection): void {
  trace.bytesSent += connection.sent
  trace.bytesReceived += connection.received
  trace.extraInfoRounds += connection.rounds
}

function reqCallOutcome(reply: DecodedHTTPReqCallResponse): CallOutcome {
  return reply.action === undefined ? 'ok' : reply.action.type
}

/** An HTTPRespCall answer changes the response when it sets a status, headers or a body. */
function respCallOutcome(reply: HTTPRespCallResponse<DecodedTextEntry>): CallOutcome {
  return reply.status !== 0 || reply.headers.length > 0 || (reply.body !== undefined && reply.body.length > 0) ? 'rewrite' : 'ok'
}
