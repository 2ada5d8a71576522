// The hand-built vectors of protocol.md §3, as APISIX's Lua builder writes them (untrimmed
// vtables), must decode to the values given there.
import t from 'tap'
import {
  ErrCode,
  FrameReader,
  MessageType,
  decodeErrResponse,
  decodeHTTPReqCallResponse,
  decodePrepareConfResponse,
} from '../../src/protocol/index.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function readFrame(bytes: Buffer): { type: number; payload: Buffer } {
  let frame: { type: number; payload: Buffer } | undefined
  new FrameReader((type, payload) => (frame = { type, payload })).push(bytes)
  return frame!
}

t.test('PrepareConf.Resp{conf_token=233} from the Lua builder', async (t) => {
  const { type, payload } = readFrame(hex('01 000014 0C000000 0000 0600 0800 0400 06000000 E9000000'))
  t.equal(type, MessageType.RPC_PREPARE_CONF)
  t.equal(payload.length, 20)
  t.same(decodePrepareConfResponse(payload), { confToken: 233 })
})

t.test('Err.Resp{code=CONF_TOKEN_NOT_FOUND} from the Lua builder', async (t) => {
  const { type, payload } = readFrame(hex('00 000014 0C000000 0000 0600 0800 0700 06000000 000000 02'))
  t.equal(type, MessageType.RPC_ERROR)
  t.same(decodeErrResponse(payload), { code: ErrCode.CONF_TOKEN_NOT_FOUND })
})

t.test('empty HTTPReqCall.Resp, Lua (untrimmed vtable) and JS builder forms', async (t) => {
  for (const bytes of ['10000000 0000 0A00 0400 000000000000 0A000000', '08000000 0400 0400 04000000']) {
    const decoded = decodeHTTPReqCallResponse(hex(bytes))
    t.same(decoded, { id: 0, actionType: 0, action: undefined }, bytes)
  }
})

t.test('Err.Resp without a code field means BAD_REQUEST', async (t) => {
  t.same(decodeErrResponse(hex('08000000 0400 0400 04000000')), { code: ErrCode.BAD_REQUEST })
})
