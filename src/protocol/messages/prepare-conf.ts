// A6.PrepareConf (protocol.md §2.3, §4.1): the gateway registers a plugin configuration
// and gets back the token that later calls carry.
import type { DecodedTextEntry, TextEntry, WireText } from '../bytes.js'
import { MessageType } from '../constants.js'
import { FlatReader } from '../flat-reader.js'
import { FlatWriter, entriesSize } from '../flat-writer.js'

export interface PrepareConfRequest<E extends TextEntry = TextEntry> {
  /** `<conf_type>#<conf_id>#<plugin_name>#<conf_version>`; runners may use it for idempotency. */
  readonly key?: WireText | undefined
  /** Runner plugins in execution order; undefined omits the vector, as APISIX does without `conf`. */
  readonly conf?: readonly E[] | undefined
}

export interface PrepareConfResponse {
  readonly confToken: number
}

export function encodePrepareConfRequest(request: PrepareConfRequest): Buffer {
  const w = new FlatWriter(64 + entriesSize(request.conf))
  const key = request.key === undefined ? 0 : w.string(request.key)
  const conf = request.conf === undefined ? 0 : w.textEntries(request.conf)
  w.startTable(2)
  w.addOffset(1, key)
  w.addOffset(0, conf)
  return w.finish(w.endTable(), MessageType.RPC_PREPARE_CONF)
}

export function decodePrepareConfRequest(payload: Buffer): PrepareConfRequest<DecodedTextEntry> {
  const r = new FlatReader(payload)
  const root = r.root('PrepareConf.Req')
  const hasConf = r.field(root, 0, 4) !== 0
  return { key: r.string(root, 1), conf: hasConf ? r.textEntries(root, 0) : undefined }
}

export function encodePrepareConfResponse(response: PrepareConfResponse): Buffer {
  const w = new FlatWriter(32)
  w.startTable(1)
  w.addU32(0, response.confToken)
  return w.finish(w.endTable(), MessageType.RPC_PREPARE_CONF)
}

export function decodePrepareConfResponse(payload: Buffer): PrepareConfResponse {
  const r = new FlatReader(payload)
  return { confToken: r.u32(r.root('PrepareConf.Resp'), 0) }
}
