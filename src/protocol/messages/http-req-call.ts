// A6.HTTPReqCall (protocol.md §2.4, §4.2, §5): the request as the gateway sees it, and the
// runner's verdict: nothing, Stop (answer the client now) or Rewrite (modify and continue).
import type { DecodedTextEntry, TextEntry, WireText } from '../bytes.js'
import { Action, MessageType } from '../constants.js'
import { BadMessage, FlatReader } from '../flat-reader.js'
import { FlatWriter, entriesSize } from '../flat-writer.js'
import { encodeReqCall, type HeaderLines } from './req-call-writer.js'

export interface HTTPReqCallRequest<E extends TextEntry = TextEntry> {
  readonly id: number
  /** 4 bytes for IPv4, 16 for IPv6. */
  readonly srcIp: Uint8Array
  /** An A6.Method code. */
  readonly method: number
  /** Decoded path, no query string. */
  readonly path: WireText
  /** Decoded query arguments, one entry per value; a bare key has no value. */
  readonly args: readonly E[]
  /**
   * Request headers, lower-case names, one entry per value; or header lines as Node gives
   * them, lower-cased while encoded (the decoder always returns entries).
   */
  readonly headers: readonly E[] | HeaderLines
  readonly confToken: number
}

export interface StopAction<E extends TextEntry = TextEntry> {
  readonly type: 'stop'
  /** 0 means 200. */
  readonly status: number
  readonly headers: readonly E[]
  /** Empty or absent means no body. */
  readonly body?: Uint8Array | undefined
}

export interface RewriteAction<E extends TextEntry = TextEntry> {
  readonly type: 'rewrite'
  readonly path?: WireText | undefined
  /** Set request headers; an entry without value deletes. */
  readonly headers: readonly E[]
  /** Set query arguments; an entry without value deletes. */
  readonly args: readonly E[]
  /** Headers to add to the eventual client response. */
  readonly respHeaders: readonly E[]
  /** Replacement request body; empty or absent keeps the body. */
  readonly body?: Uint8Array | undefined
}

export type ReqCallAction<E extends TextEntry = TextEntry> = StopAction<E> | RewriteAction<E>

export interface HTTPReqCallResponse<E extends TextEntry = TextEntry> {
  /** Echo of the request id; the gateway ignores it. */
  readonly id: number
  /** undefined for no action (or an action type the protocol does not define). */
  readonly action: ReqCallAction<E> | undefined
}

export interface DecodedHTTPReqCallResponse extends HTTPReqCallResponse<DecodedTextEntry> {
  /** The raw union tag, so that an unknown action can be reported. */
  readonly actionType: number
  readonly action: ReqCallAction<DecodedTextEntry> | undefined
}

/** The whole frame, in one pass (see req-call-writer.ts). */
export function encodeHTTPReqCallRequest(request: HTTPReqCallRequest): Buffer {
  return encodeReqCall(request, request.id, request.confToken)
}

export function decodeHTTPReqCallRequest(payload: Buffer): HTTPReqCallRequest<DecodedTextEntry> & {
  readonly path: string
  readonly srcIp: Buffer
  readonly headers: readonly DecodedTextEntry[]
} {
  const r = new FlatReader(payload)
  const root = r.root('HTTPReqCall.Req')
  return {
    id: r.u32(root, 0),
    srcIp: r.bytes(root, 1) ?? Buffer.alloc(0),
    method: r.u8(root, 2),
    path: r.string(root, 3) ?? '',
    args: r.textEntries(root, 4),
    headers: r.textEntries(root, 5),
    confToken: r.u32(root, 6),
  }
}

export function encodeHTTPReqCallResponse(response: HTTPReqCallResponse): Buffer {
  const action = response.action
  const w = new FlatWriter(64 + (action ? actionSize(action) : 0))
  let actionType: number = Action.NONE
  let actionOffset = 0
  if (action?.type === 'stop') {
    actionType = Action.Stop
    const headers = action.headers.length > 0 ? w.textEntries(action.headers) : 0
    const body = action.body && action.body.length > 0 ? w.bytes(action.body) : 0
    w.startTable(3)
    w.addOffset(1, headers)
    w.addOffset(2, body)
    w.addU16(0, action.status)
    actionOffset = w.endTable()
  } else if (action?.type === 'rewrite') {
    actionType = Action.Rewrite
    const path = action.path === undefined ? 0 : w.string(action.path)
    const headers = action.headers.length > 0 ? w.textEntries(action.headers) : 0
    const args = action.args.length > 0 ? w.textEntries(action.args) : 0
    const respHeaders = action.respHeaders.length > 0 ? w.textEntries(action.respHeaders) : 0
    const body = action.body && action.body.length > 0 ? w.bytes(action.body) : 0
    w.startTable(5)
    w.addOffset(0, path)
    w.addOffset(1, headers)
    w.addOffset(2, args)
    w.addOffset(3, respHeaders)
    w.addOffset(4, body)
    actionOffset = w.endTable()
  }
  w.startTable(3)
  w.addU32(0, response.id)
  w.addOffset(2, actionOffset)
  w.addU8(1, actionType)
  return w.finish(w.endTable(), MessageType.RPC_HTTP_REQ_CALL)
}

export function decodeHTTPReqCallResponse(payload: Buffer): DecodedHTTPReqCallResponse {
  const r = new FlatReader(payload)
  const root = r.root('HTTPReqCall.Resp')
  const id = r.u32(root, 0)
  const actionType = r.u8(root, 1)
  if (actionType !== Action.Stop && actionType !== Action.Rewrite) {
    return { id, actionType, action: undefined }
  }
  const name = actionType === Action.Stop ? 'HTTPReqCall.Stop' : 'HTTPReqCall.Rewrite'
  const table = r.child(root, 2, name)
  if (table === 0) throw new BadMessage(`action type ${actionType} without its ${name} table`)
  const action: ReqCallAction<DecodedTextEntry> =
    actionType === Action.Stop
      ? { type: 'stop', status: r.u16(table, 0), headers: r.textEntries(table, 1), body: r.bytes(table, 2) }
      : {
          type: 'rewrite',
          path: r.string(table, 0),
          headers: r.textEntries(table, 1),
          args: r.textEntries(table, 2),
          respHeaders: r.textEntries(table, 3),
          body: r.bytes(table, 4),
        }
  return { id, actionType, action }
}

function actionSize(action: ReqCallAction): number {
  const body = action.body?.length ?? 0
  if (action.type === 'stop') return entriesSize(action.headers) + body
  return (
    (action.path?.length ?? 0) + entriesSize(action.headers) + entriesSize(action.args) +
    entriesSize(action.respHeaders) + body
  )
}
