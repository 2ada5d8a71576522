// Shared pieces of the engine tests: a recording logger, the adapter's part (run the
// request phases, let "the application" answer, run the response phase), and decoders for
// what the mock runner received.
import type { Logger } from '../../src/logger.js'
import type { Exchange } from '../../src/engine/exchange.js'
import { HeaderList } from '../../src/engine/headers.js'
import type { Pipeline } from '../../src/engine/pipeline.js'
import type { FinalResponse } from '../../src/engine/plugin.js'
import { runRequestPhases, runResponsePhase } from '../../src/engine/run.js'
import * as P from '../../src/protocol/index.js'
import type { MockRunner } from '../helpers/mock-runner.js'
import { recordingLogger as recordLogs } from '../helpers/logger.js'

export type { Level } from '../helpers/logger.js'
import type { Level } from '../helpers/logger.js'

export interface Recorder {
  readonly logger: Logger
  /** Every line, as `<level> <message>`. */
  readonly lines: string[]
  /** The messages logged at `level`, in order. */
  at(level: Level): string[]
}

export function recordingLogger(): Recorder {
  const logger = recordLogs()
  return { logger, lines: logger.lines, at: logger.at }
}

/** What "the application" answers when the request reaches it. */
export interface AppResponse {
  status?: number
  headers?: Array<[string, string]>
  body?: string | Buffer | undefined
}

export interface Served {
  /** The response the client gets. */
  readonly response: FinalResponse
  /** True when a plugin answered before the application. */
  readonly stopped: boolean
  /** True when the application ran. */
  readonly reachedApp: boolean
}

/**
 * What an adapter does with one route: request phases, then the application (unless a
 * plugin answered), then the response phase over whatever response there is.
 */
export async function serve(pipelines: Pipeline | Pipeline[], exchange: Exchange, logger: Logger, app: AppResponse = {}): Promise<Served> {
  const list = Array.isArray(pipelines) ? pipelines : [pipelines]
  let early: FinalResponse | undefined
  let ranUntil = list.length
  for (let i = 0; i < list.length && early === undefined; i++) {
    early = await runRequestPhases(list[i]!, exchange, logger)
    if (early !== undefined) ranUntil = i + 1
  }
  const stopped = early !== undefined
  exchange.response = early ?? {
    status: app.status ?? 200,
    headers: HeaderList.from(app.headers ?? [['Content-Type', 'text/plain']]),
    body: app.body === undefined ? Buffer.from('from the app') : Buffer.from(app.body),
  }
  for (const pipeline of list.slice(0, ranUntil)) await runResponsePhase(pipeline, exchange, logger, stopped)
  return { response: exchange.response, stopped, reachedApp: !stopped }
}

/** A response as plain, comparable data (body as a latin1 string). */
export function plainResponse(response: FinalResponse | undefined) {
  if (response === undefined) return undefined
  return { status: response.status, headers: [...response.headers], body: response.body?.toString('latin1') }
}

/** nginx's page for a bodiless ≥ 300 status, as src/engine/error-page.ts words it. */
export function errorPageOf(title: string): string {
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>apisix-ext-plugin</center>\r\n</body>\r\n</html>\r\n`
}

/** The frames of one type the mock received, decoded. */
export function reqCalls(mock: MockRunner) {
  return mock.received.filter((f) => f.type === P.MessageType.RPC_HTTP_REQ_CALL).map((f) => P.decodeHTTPReqCallRequest(f.payload))
}

export function respCalls(mock: MockRunner) {
  return mock.received.filter((f) => f.type === P.MessageType.RPC_HTTP_RESP_CALL).map((f) => P.decodeHTTPRespCallRequest(f.payload))
}

/** The key of a PrepareConf frame, e.g. `route#1#ext-plugin-pre-req#1-<hash>`. */
export function prepareKey(payload: Buffer): string {
  const key = P.decodePrepareConfRequest(payload).key
  return key === undefined ? '' : typeof key === 'string' ? key : Buffer.from(key).toString('latin1')
}

/** The plugin name in a PrepareConf key (`ext-plugin-pre-req`, ...). */
export function prepareKeyPlugin(payload: Buffer): string {
  return prepareKey(payload).split('#')[2] ?? ''
}

export function prepareConfs(mock: MockRunner) {
  return mock.received.filter((f) => f.type === P.MessageType.RPC_PREPARE_CONF).map((f) => P.decodePrepareConfRequest(f.payload))
}

/** Entries as [name, value] pairs (value null when absent), for comparisons. */
export function pairs(entries: readonly P.DecodedTextEntry[]): Array<[string, string | null]> {
  return entries.map((e) => [e.name, e.value ?? null])
}

/** Sorted by name (stable within a name), for vectors whose cross-name order is unspecified. */
export function byName<T extends [string, unknown]>(list: T[]): T[] {
  return [...list].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}
