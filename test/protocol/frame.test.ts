import t from 'tap'
import { ErrorCode } from '../../src/errors.js'
import { FrameReader, MAX_PAYLOAD_LENGTH, encodeFrame } from '../../src/protocol/index.js'

function collect(): { frames: Array<[number, string]>; reader: FrameReader } {
  const frames: Array<[number, string]> = []
  const reader = new FrameReader((type, payload) => frames.push([type, payload.toString('hex')]))
  return { frames, reader }
}

t.test('header is type + 24-bit big-endian length', async (t) => {
  const frame = encodeFrame(2, Buffer.alloc(0x010203, 7))
  t.same([...frame.subarray(0, 4)], [2, 0x01, 0x02, 0x03])
  t.equal(frame.length, 4 + 0x010203)
})

t.test('frames split at every byte boundary come out whole and in order', async (t) => {
  const stream = Buffer.concat([
    encodeFrame(1, Buffer.from('0c0000000000060008000400', 'hex')),
    encodeFrame(3, Buffer.alloc(0)),
    encodeFrame(2, Buffer.from('abcdef', 'hex')),
    encodeFrame(4, Buffer.from('00', 'hex')),
  ])
  const expected: Array<[number, string]> = [
    [1, '0c0000000000060008000400'],
    [3, ''],
    [2, 'abcdef'],
    [4, '00'],
  ]
  for (let cut = 0; cut <= stream.length; cut++) {
    const { frames, reader } = collect()
    reader.push(stream.subarray(0, cut))
    reader.push(stream.subarray(cut))
    t.same(frames, expected, `split at ${cut}`)
    t.equal(reader.buffered, 0)
  }
  const { frames, reader } = collect()
  for (let i = 0; i < stream.length; i++) reader.push(stream.subarray(i, i + 1))
  t.same(frames, expected, 'one byte at a time')
})

t.test('a frame inside one chunk is a view, not a copy', async (t) => {
  const frame = encodeFrame(2, Buffer.from('hello'))
  let payload: Buffer | undefined
  new FrameReader((_, p) => (payload = p)).push(frame)
  t.equal(payload!.buffer, frame.buffer)
})

t.test('incomplete() tells a short header from a truncated payload', async (t) => {
  const { reader } = collect()
  t.equal(reader.incomplete(), undefined)
  reader.push(Buffer.from([2, 0]))
  t.equal(reader.incomplete(), 'header too short: got 2 of 4 bytes')
  reader.push(Buffer.from([0, 10, 1, 2, 3]))
  t.equal(reader.incomplete(), 'data truncated: got 3 of 10 payload bytes')
})

t.test('a payload over 16 777 215 bytes is refused before anything is built', async (t) => {
  t.throws(() => encodeFrame(2, Buffer.alloc(MAX_PAYLOAD_LENGTH + 1)), {
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: 'the max length of data is 16777215 but got 16777216',
  })
  t.equal(encodeFrame(2, Buffer.alloc(MAX_PAYLOAD_LENGTH)).length, MAX_PAYLOAD_LENGTH + 4)
})

t.test('random chunking of 1000 frames', async (t) => {
  const payloads = Array.from({ length: 1000 }, (_, i) => Buffer.alloc(i % 97, i & 0xff))
  const stream = Buffer.concat(payloads.map((p, i) => encodeFrame(i % 5, p)))
  let seen = 0
  let ok = true
  const reader = new FrameReader((type, payload) => {
    ok &&= type === seen % 5 && payload.equals(payloads[seen]!)
    seen++
  })
  let at = 0
  let seed = 42
  while (at < stream.length) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    const n = 1 + (seed % 300)
    reader.push(stream.subarray(at, at + n))
    at += n
  }
  t.equal(seen, 1000)
  t.ok(ok)
})
