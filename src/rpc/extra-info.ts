// Answering the runner's ExtraInfo questions (protocol.md §4.3) from whatever the caller
// knows about the exchange. A source that fails is logged and answered "absent", as APISIX
// does for an unreadable body, and the call goes on; except for a body over the size
// limit, which ends the call with BODY_TOO_LARGE (the gateway answers 413, as nginx does).
import { ErrorCode, ExtPluginError } from '../errors.js'
import { errorFields, type Logger } from '../logger.js'
import { EXTRA_INFO_PARTS_THRESHOLD, Info, MAX_PAYLOAD_LENGTH, encodeExtraInfoResponse, encodeExtraInfoResponseParts, type DecodedExtraInfoRequest, type WireText } from '../protocol/index.js'

/**
 * The largest body one ExtraInfo answer can carry. Its frame payload (at most
 * MAX_PAYLOAD_LENGTH, 16 777 215) is a FlatBuffer: root offset, vtable, table, vector length
 * (24 bytes), then the body padded to a multiple of 4. So 16 777 188 bytes; a test checks
 * it against the encoder.
 */
export const MAX_BODY_SIZE = Math.floor((MAX_PAYLOAD_LENGTH - 24) / 4) * 4

type MaybePromise<T> = T | Promise<T>

export interface ExtraInfoSource {
  /** A gateway variable as bytes (or a binary string); undefined when it does not exist. */
  variable(name: string): MaybePromise<WireText | undefined>
  /** The whole request body; undefined when there is none. */
  requestBody(): MaybePromise<WireText | undefined>
  /** The whole response body (response phase only); undefined when there is none. */
  responseBody(): MaybePromise<WireText | undefined>
}

/** A source that knows nothing: every answer is absent. */
export const emptyExtraInfo: ExtraInfoSource = {
  variable: () => undefined,
  requestBody: () => undefined,
  responseBody: () => undefined,
}

/** A frame, or its parts to be written together (a large body is not copied into the frame). */
export type FrameParts = Buffer | readonly Buffer[]

const absent = (): Buffer => encodeExtraInfoResponse({})
const encode = (result: WireText | undefined): FrameParts =>
  result !== undefined && typeof result !== 'string' && result.length >= EXTRA_INFO_PARTS_THRESHOLD ? encodeExtraInfoResponseParts(result) : encodeExtraInfoResponse({ result })

/** The ExtraInfo.Resp frame answering `question` from `source`. */
export function answerQuestion(source: ExtraInfoSource, question: DecodedExtraInfoRequest, logger: Logger): FrameParts | Promise<FrameParts> {
  const failed = (err: unknown): Buffer => {
    if (err instanceof ExtPluginError && err.code === ErrorCode.BODY_TOO_LARGE) throw err
    const what =
      question.kind === Info.Var ? `variable ${question.name}` : question.kind === Info.ReqBody ? 'request body' : 'response body'
    logger.error(errorFields(err), `failed to read ${what}: ${err instanceof Error ? err.message : String(err)}`)
    return absent()
  }
  let value: MaybePromise<WireText | undefined>
  try {
    value =
      question.kind === Info.Var
        ? source.variable(question.name!)
        : question.kind === Info.ReqBody
          ? source.requestBody()
          : source.responseBody()
  } catch (err) {
    return failed(err)
  }
  return value instanceof Promise ? value.then(encode, failed) : encode(value)
}
