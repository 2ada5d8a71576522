// What the fake runner saw, decoded into plain data a test can compare with strictSame or
// deepStrictEqual: strings for names and values, numbers for codes.
import { binaryToUtf8, type DecodedTextEntry } from '../protocol/bytes.js'
import { ErrCode, Info, methodName } from '../protocol/constants.js'
import type { DecodedHTTPReqCallResponse, HTTPRespCallRequest, HTTPRespCallResponse, PrepareConfRequest } from '../protocol/index.js'
import { formatIp } from '../runner-server/ip.js'
import type { FaultKind } from './faults.js'

/** A name and a value, as on the wire; a value is undefined for a bare query key or a delete. */
export interface Entry {
  readonly name: string
  readonly value: string | undefined
}

/** One runner plugin of a conf: its name and configuration text (UTF-8). */
export interface ConfEntry {
  readonly name: string
  readonly value: string
}

/** The runner's refusal: an RPC_ERROR code (0 bad request, 1 service unavailable, 2 conf token not found). */
export interface RpcErrorRecord {
  readonly code: number
  readonly text: 'bad request' | 'service unavailable' | 'conf token not found' | 'unknown'
}

export interface PrepareRecord {
  /** `route#<id>#<plugin>#<version>-<hash>` (or `global_rule#…`). */
  readonly key: string | undefined
  /** The runner plugins to run, in order. */
  readonly conf: readonly ConfEntry[]
  /** The token the runner answered; undefined until it answered, or when it did not. */
  readonly token: number | undefined
  /** Set when the runner answered RPC_ERROR. */
  readonly error: RpcErrorRecord | undefined
  /** The fault injected in place of the answer, if any. */
  readonly fault: FaultKind | undefined
}

/** What the runner asked the gateway during a call (ExtraInfo). */
export type Question = { readonly kind: 'var'; readonly name: string } | { readonly kind: 'request-body' } | { readonly kind: 'response-body' } | { readonly kind: 'unknown'; readonly code: number }

/** The runner's answer to an HTTPReqCall. */
export type RequestReply =
  | { readonly action: 'none' }
  | { readonly action: 'stop'; readonly status: number; readonly headers: readonly Entry[]; readonly body: string | undefined }
  | {
      readonly action: 'rewrite'
      readonly path: string | undefined
      readonly headers: readonly Entry[]
      readonly args: readonly Entry[]
      readonly respHeaders: readonly Entry[]
      readonly body: string | undefined
    }

/** The runner's answer to an HTTPRespCall. */
export interface ResponseReply {
  /** 0 keeps the application's status. */
  readonly status: number
  readonly headers: readonly Entry[]
  readonly body: string | undefined
}

interface CallCommon {
  readonly id: number
  readonly token: number
  /** The conf behind the token, from the PrepareConf that returned it (undefined if unknown). */
  readonly conf: readonly ConfEntry[] | undefined
  readonly questions: readonly Question[]
  /** Set when the runner answered RPC_ERROR. */
  readonly error: RpcErrorRecord | undefined
  /** The fault injected in place of the answer, if any. */
  readonly fault: FaultKind | undefined
}

/** An HTTPReqCall (ext-plugin-pre-req or ext-plugin-post-req). */
export interface RequestCallRecord extends CallCommon {
  readonly type: 'request'
  /** `GET`, `POST`…; `method <n>` for a code the protocol does not name. */
  readonly method: string
  readonly path: string
  readonly args: readonly Entry[]
  /** Lower-case names, one entry per value. */
  readonly headers: readonly Entry[]
  readonly srcIp: string | undefined
  readonly reply: RequestReply | undefined
}

/** An HTTPRespCall (ext-plugin-post-resp). */
export interface ResponseCallRecord extends CallCommon {
  readonly type: 'response'
  readonly status: number
  readonly headers: readonly Entry[]
  readonly reply: ResponseReply | undefined
}

export type CallRecord = RequestCallRecord | ResponseCallRecord

/** The relay fills records in as answers arrive; tests see them read-only. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] }

const entries = (list: readonly DecodedTextEntry[]): Entry[] => list.map(({ name, value }) => ({ name, value }))
/** Bodies as text (latin1 would keep bytes; tests compare what plugins wrote, mostly UTF-8). */
const text = (body: Uint8Array | undefined): string | undefined =>
  body === undefined || body.length === 0 ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')

export function prepareRecord(request: PrepareConfRequest<DecodedTextEntry>): Writable<PrepareRecord> {
  const key = request.key === undefined ? undefined : binaryToUtf8(String(request.key))
  const conf = (request.conf ?? []).map((e) => ({ name: binaryToUtf8(e.name), value: binaryToUtf8(e.value ?? '') }))
  return { key, conf, token: undefined, error: undefined, fault: undefined }
}

export function requestCallRecord(
  request: { id: number; srcIp: Uint8Array; method: number; path: string; args: readonly DecodedTextEntry[]; headers: readonly DecodedTextEntry[]; confToken: number },
  conf: readonly ConfEntry[] | undefined,
): Writable<RequestCallRecord> & { questions: Question[] } {
  return {
    type: 'request',
    id: request.id,
    token: request.confToken,
    conf,
    method: methodName(request.method) ?? `method ${request.method}`,
    path: request.path,
    args: entries(request.args),
    headers: entries(request.headers),
    srcIp: formatIp(request.srcIp),
    questions: [],
    reply: undefined,
    error: undefined,
    fault: undefined,
  }
}

export function responseCallRecord(request: HTTPRespCallRequest<DecodedTextEntry>, conf: readonly ConfEntry[] | undefined): Writable<ResponseCallRecord> & { questions: Question[] } {
  return { type: 'response', id: request.id, token: request.confToken, conf, status: request.status, headers: entries(request.headers), questions: [], reply: undefined, error: undefined, fault: undefined }
}

export function requestReply(response: DecodedHTTPReqCallResponse): RequestReply {
  const action = response.action
  if (action === undefined) return { action: 'none' }
  if (action.type === 'stop') return { action: 'stop', status: action.status, headers: entries(action.headers), body: text(action.body) }
  return {
    action: 'rewrite',
    path: action.path === undefined ? undefined : String(action.path),
    headers: entries(action.headers),
    args: entries(action.args),
    respHeaders: entries(action.respHeaders),
    body: text(action.body),
  }
}

export function responseReply(response: HTTPRespCallResponse<DecodedTextEntry>): ResponseReply {
  return { status: response.status, headers: entries(response.headers), body: text(response.body) }
}

export function question(kind: number, name: string | undefined): Question {
  if (kind === Info.Var) return { kind: 'var', name: name ?? '' }
  if (kind === Info.ReqBody) return { kind: 'request-body' }
  if (kind === Info.RespBody) return { kind: 'response-body' }
  return { kind: 'unknown', code: kind }
}

export function rpcError(code: number): RpcErrorRecord {
  const texts = { [ErrCode.BAD_REQUEST]: 'bad request', [ErrCode.SERVICE_UNAVAILABLE]: 'service unavailable', [ErrCode.CONF_TOKEN_NOT_FOUND]: 'conf token not found' } as const
  return { code, text: texts[code as keyof typeof texts] ?? 'unknown' }
}
