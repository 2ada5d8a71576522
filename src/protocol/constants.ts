// Numbers fixed by the wire protocol (protocol.md §1–2). Enum values come from the
// generated schema code so that fbs/ext-plugin.fbs stays the one source of truth.
import { Method } from './gen/a6/method.js'
import { Code as ErrCode } from './gen/a6/err/code.js'
import { Action } from './gen/a6/httpreq-call/action.js'
import { Info } from './gen/a6/extra-info/info.js'

export { Method, ErrCode, Action, Info }

/** Frame byte 0. */
export const MessageType = {
  RPC_ERROR: 0,
  RPC_PREPARE_CONF: 1,
  RPC_HTTP_REQ_CALL: 2,
  RPC_EXTRA_INFO: 3,
  RPC_HTTP_RESP_CALL: 4,
} as const
export type MessageType = (typeof MessageType)[keyof typeof MessageType]

const messageTypeNames = ['RPC_ERROR', 'RPC_PREPARE_CONF', 'RPC_HTTP_REQ_CALL', 'RPC_EXTRA_INFO', 'RPC_HTTP_RESP_CALL']

/** `RPC_HTTP_REQ_CALL` for 2; `type 9` for a number the protocol does not define. */
export function messageTypeName(type: number): string {
  return messageTypeNames[type] ?? `type ${type}`
}

export const FRAME_HEADER_LENGTH = 4
/** 2^24 − 1: the largest payload a 24-bit length can carry. */
export const MAX_PAYLOAD_LENGTH = 0xff_ff_ff

/** The gateway's text for an A6.Err.Code, as used in error messages and the retry decision. */
export function errCodeText(code: number): string {
  switch (code) {
    case ErrCode.BAD_REQUEST:
      return 'bad request'
    case ErrCode.SERVICE_UNAVAILABLE:
      return 'service unavailable'
    case ErrCode.CONF_TOKEN_NOT_FOUND:
      return 'conf token not found'
    default:
      return `unknown err ${code}`
  }
}

const methodCodes: ReadonlyMap<string, Method> = new Map(
  Object.entries(Method).filter((e): e is [string, Method] => typeof e[1] === 'number'),
)

/** The protocol's code for an upper-case HTTP method name; undefined for CONNECT, PURGE, custom verbs. */
export function methodCode(method: string): Method | undefined {
  return methodCodes.get(method)
}

/** The HTTP method name for a protocol code; undefined for a code the enum lacks. */
export function methodName(code: number): string | undefined {
  const name = Method[code]
  return typeof name === 'string' ? name : undefined
}

/** Call ids are `(worker_id << 22) + counter`; the counter wraps here (protocol.md §4.2). */
export const CALL_ID_WRAP = 1 << 22

/** The id after `id`: one worker (id 0), a counter from 0 that wraps at 2^22. */
export function nextCallId(id: number): number {
  return (id + 1) % CALL_ID_WRAP
}
