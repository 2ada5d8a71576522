// The three built-in plugins that call the runner (protocol.md §7 "Plugin identity"):
// ext-plugin-pre-req (rewrite, 12000), ext-plugin-post-req (access, −3000) and
// ext-plugin-post-resp (response, −4000). Each one asks the runner with its own conf
// token, applies the answer, and turns any failure into 503 or, with
// `allow_degradation`, into "carry on as if the runner said nothing".
import { createHash } from 'node:crypto'
import { degradationChannel } from '../diagnostics/channels.js'
import { failureCode, type RunnerCounters } from '../diagnostics/stats.js'
import { ErrorCode, ExtPluginError } from '../errors.js'
import { parseIPv4, parseIPv6 } from '../expr/ip.js'
import { errorFields, type Logger } from '../logger.js'
import { methodCode, utf8ToBinary, type TextEntry } from '../protocol/index.js'
import type { RunnerClient, RunnerConf } from '../rpc/client.js'
import type { ExtraInfoSource } from '../rpc/extra-info.js'
import { extPluginSchema, type ExtPluginConf } from '../config/schemas.js'
import { applyRespCall, applyRewrite, checkRewrite, DEFAULT_LIMITS, stopToResponse, type AnswerLimits } from './apply-actions.js'
import { argsToEntries } from './args.js'
import type { Exchange } from './exchange.js'
import type { PrepareContext } from './pipeline.js'
import type { Phase, Plugin, PluginResponse } from './plugin.js'
import { variableToWire } from './variables.js'

export const PRE_REQ = 'ext-plugin-pre-req'
export const POST_REQ = 'ext-plugin-post-req'
export const POST_RESP = 'ext-plugin-post-resp'

/** What the handlers of an ext-plugin instance receive: prepared once per route version. */
export interface PreparedRunnerConf {
  readonly runner: RunnerConf
  readonly allowDegradation: boolean
}

/** Where the built-ins find the runner; absent when the ExtPlugin has none. */
export interface RunnerAccess {
  readonly client: RunnerClient | undefined
  readonly logger: Logger
  /** Bounds on an answer; over them the answer is a runner failure. Default: maxHeaders 1000. */
  readonly limits?: AnswerLimits
  /** Where degradations and 503s are counted (`ext.stats()`). */
  readonly counters?: RunnerCounters | undefined
}

const SERVICE_UNAVAILABLE: PluginResponse = { status: 503 }
const PAYLOAD_TOO_LARGE: PluginResponse = { status: 413 }

export function runnerPlugins(access: RunnerAccess): Array<Plugin<ExtPluginConf, PreparedRunnerConf>> {
  const prepare = (name: string, phase: Phase) => (conf: ExtPluginConf, context: PrepareContext): PreparedRunnerConf => ({
    runner: {
      // `route#<id>#<plugin>#<version>`; the version also carries a hash of the content,
      // so a runner that outlives this process never serves an old conf for a reused key.
      key: `${context.confType}#${context.routeId}#${name}#${context.version}-${context.contentHash}`,
      conf: conf.conf?.map(({ name, value }): TextEntry => ({ name: utf8ToBinary(name), value: utf8ToBinary(value) })),
      // who calls, for ext.stats() and the diagnostics channels: said once per version, not per call
      route: context.routeId,
      plugin: name,
      phase,
      names: conf.conf?.map(({ name }) => name) ?? [],
    },
    allowDegradation: conf.allow_degradation === true,
  })

  const onFailure = (conf: PreparedRunnerConf, err: unknown): PluginResponse | undefined => {
    const { logger } = access
    logger.error({ key: conf.runner.key, ...errorFields(err) }, err instanceof Error ? err.message : String(err))
    // The runner wanted a body we will not hold: the client's request is at fault, not the runner.
    if ((err as ExtPluginError).code === ErrorCode.BODY_TOO_LARGE) return PAYLOAD_TOO_LARGE
    const counters = access.counters
    if (!conf.allowDegradation) {
      if (counters !== undefined) counters.unavailable++
      return SERVICE_UNAVAILABLE
    }
    if (counters !== undefined) counters.degradations++
    if (degradationChannel.hasSubscribers) {
      const { route, plugin, phase } = conf.runner
      degradationChannel.publish({ route, plugin: plugin!, phase: phase!, code: failureCode(err), error: err })
    }
    logger.warn(
      { key: conf.runner.key, code: (err as ExtPluginError).code },
      (err as ExtPluginError).code === ErrorCode.CONF_TOKEN_NOT_FOUND
        ? 'Plugin Runner is wrong after 3 times retry, allow degradation'
        : 'Plugin Runner is wrong, allow degradation',
    )
    return undefined
  }

  const requestCall = (name: string) => async (conf: PreparedRunnerConf, exchange: Exchange): Promise<PluginResponse | undefined> => {
    let answer
    try {
      const client = requireClient(access)
      answer = await client.httpReqCall(conf.runner, reqCallOf(exchange), extraInfoOf(exchange, access.logger, false), {
        signal: exchange.signal,
      })
    } catch (err) {
      return onFailure(conf, err)
    }
    const action = answer.action
    if (action === undefined) return undefined
    const limits = access.limits ?? DEFAULT_LIMITS
    // An answer that cannot be applied (a 1xx or 1000 status, too many headers) is a
    // runner failure like any other, checked before any of it touches the exchange.
    try {
      if (action.type === 'stop') return stopToResponse(action, limits)
      checkRewrite(action, limits)
    } catch (err) {
      return onFailure(conf, err)
    }
    applyRewrite(exchange, action)
    return undefined
  }

  const responseCall = async (conf: PreparedRunnerConf, exchange: Exchange): Promise<PluginResponse | undefined> => {
    const response = exchange.response!
    let answer
    try {
      const client = requireClient(access)
      answer = await client.httpRespCall(
        conf.runner,
        // the lines encoded where they are, in the application's case
        { status: response.status, headers: { lines: response.headers.raw } },
        extraInfoOf(exchange, access.logger, true),
        { signal: exchange.signal },
      )
    } catch (err) {
      return onFailure(conf, err)
    }
    try {
      applyRespCall(response, answer, access.limits ?? DEFAULT_LIMITS)
    } catch (err) {
      return onFailure(conf, err)
    }
    return undefined
  }

  return [
    { name: PRE_REQ, priority: 12000, schema: extPluginSchema, prepare: prepare(PRE_REQ, 'rewrite'), rewrite: requestCall(PRE_REQ) },
    { name: POST_REQ, priority: -3000, schema: extPluginSchema, prepare: prepare(POST_REQ, 'access'), access: requestCall(POST_REQ) },
    { name: POST_RESP, priority: -4000, schema: extPluginSchema, prepare: prepare(POST_RESP, 'response'), response: responseCall },
  ]
}

function requireClient(access: RunnerAccess): RunnerClient {
  if (access.client === undefined) {
    throw new ExtPluginError(ErrorCode.INVALID_OPTIONS, 'no runner is configured: pass `runner` to createExtPlugin')
  }
  return access.client
}

/** The HTTPReqCall fields from the exchange as it is now (protocol.md §4.2). */
export function reqCallOf(exchange: Exchange): Parameters<RunnerClient['httpReqCall']>[1] {
  const method = methodCode(exchange.method)
  if (method === undefined) {
    throw new ExtPluginError(ErrorCode.UNSUPPORTED_METHOD, `the HTTP method ${exchange.method} has no code in the protocol`)
  }
  return {
    srcIp: ipBytes(exchange.remoteAddress),
    method,
    path: exchange.upstreamUri ?? exchange.uri,
    args: argsToEntries(exchange.args),
    // encoded straight from the header lines, names lower-cased on the way
    headers: { lines: exchange.headers.raw, host: exchange.upstreamHost },
  }
}

/** ExtraInfo answers from the exchange (protocol.md §4.3). */
function extraInfoOf(exchange: Exchange, logger: Logger, responsePhase: boolean): ExtraInfoSource {
  return {
    variable: (name) => variableToWire(exchange.variable(name)),
    requestBody: () => exchange.body.read(),
    responseBody: () => {
      if (responsePhase) return exchange.response?.body
      logger.error({ method: exchange.method, url: exchange.requestUri }, 'failed to read response body: not exits')
      return undefined
    },
  }
}

const NO_ADDRESS = Buffer.alloc(4)
const v6 = new Uint16Array(8)

/** `$binary_remote_addr`: 4 bytes for IPv4 (an IPv4-mapped IPv6 address too), 16 for IPv6. */
export function ipBytes(address: string): Buffer {
  const mapped = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
  const v4 = parseIPv4(mapped)
  if (v4 !== undefined) {
    const bytes = Buffer.allocUnsafe(4)
    bytes.writeUInt32BE(v4)
    return bytes
  }
  const zone = mapped.indexOf('%')
  if (parseIPv6(zone < 0 ? mapped : mapped.slice(0, zone), v6)) {
    const bytes = Buffer.allocUnsafe(16)
    for (let i = 0; i < 8; i++) bytes.writeUInt16BE(v6[i]!, i * 2)
    return bytes
  }
  return NO_ADDRESS
}

/** A short, stable digest of a plugin's configuration, for its conf token key. */
export function contentHash(conf: unknown): string {
  return createHash('sha256').update(JSON.stringify(conf) ?? '').digest('hex').slice(0, 12)
}
