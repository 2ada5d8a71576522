// Frames (protocol.md §1): 1 byte type, 3 bytes big-endian payload length, the payload.
//
// FrameReader takes the bytes of a stream in whatever chunks the socket delivers and hands
// out whole frames. Like ws's receiver it keeps the chunks in a list and only copies when a
// frame spans chunks; a frame inside one chunk is handed out as a view of it (sockets give
// a fresh Buffer per read, so the view stays valid).
import { FRAME_HEADER_LENGTH, MAX_PAYLOAD_LENGTH } from './constants.js'
import { payloadTooLarge } from './flat-writer.js'

export type FrameHandler = (type: number, payload: Buffer) => void

/** A frame around an already-encoded payload (the codecs write their frames directly). */
export function encodeFrame(type: number, payload: Uint8Array): Buffer {
  if (payload.length > MAX_PAYLOAD_LENGTH) throw payloadTooLarge(payload.length)
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.length)
  frame[0] = type
  frame.writeUIntBE(payload.length, 1, 3)
  frame.set(payload, FRAME_HEADER_LENGTH)
  return frame
}

export class FrameReader {
  readonly #onFrame: FrameHandler
  readonly #chunks: Buffer[] = []
  /** Read position in the first chunk. */
  #offset = 0
  /** Unread bytes across all chunks. */
  #buffered = 0
  /** Header of the frame being assembled; -1 while waiting for a header. */
  #type = -1
  #length = 0

  constructor(onFrame: FrameHandler) {
    this.#onFrame = onFrame
  }

  /** Bytes received but not yet handed out as a frame. */
  get buffered(): number {
    return this.#buffered
  }

  /**
   * Describes an incomplete frame, for the error when the peer closes: APISIX's
   * `header too short` and `data truncated` cases (protocol.md §1). Undefined between frames.
   */
  incomplete(): string | undefined {
    if (this.#type >= 0) return `data truncated: got ${this.#buffered} of ${this.#length} payload bytes`
    if (this.#buffered > 0) return `header too short: got ${this.#buffered} of ${FRAME_HEADER_LENGTH} bytes`
    return undefined
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    for (;;) {
      if (this.#type < 0) {
        if (this.#buffered < FRAME_HEADER_LENGTH) return
        const header = this.#readHeader()
        this.#type = header >>> 24
        this.#length = header & MAX_PAYLOAD_LENGTH
      }
      if (this.#buffered < this.#length) return
      const type = this.#type
      const payload = this.#take(this.#length)
      this.#type = -1
      this.#onFrame(type, payload)
      if (this.#buffered === 0) return
    }
  }

  /** Drops whatever is buffered (the connection is being thrown away). */
  reset(): void {
    this.#chunks.length = 0
    this.#offset = 0
    this.#buffered = 0
    this.#type = -1
  }

  #readHeader(): number {
    const first = this.#chunks[0]!
    if (first.length - this.#offset >= FRAME_HEADER_LENGTH) {
      const header = first.readUInt32BE(this.#offset)
      this.#advance(FRAME_HEADER_LENGTH)
      return header
    }
    return this.#take(FRAME_HEADER_LENGTH).readUInt32BE(0)
  }

  #advance(bytes: number): void {
    this.#offset += bytes
    this.#buffered -= bytes
    if (this.#offset === this.#chunks[0]!.length) {
      this.#chunks.shift()
      this.#offset = 0
    }
  }

  /** The next `bytes` bytes: a view when they lie in one chunk, else one copy. */
  #take(bytes: number): Buffer {
    const first = this.#chunks[0]
    if (bytes === 0 || first === undefined) return Buffer.alloc(0)
    if (first.length - this.#offset >= bytes) {
      const view = first.subarray(this.#offset, this.#offset + bytes)
      this.#advance(bytes)
      return view
    }
    const out = Buffer.allocUnsafe(bytes)
    let filled = 0
    while (filled < bytes) {
      const chunk = this.#chunks[0]!
      const n = Math.min(bytes - filled, chunk.length - this.#offset)
      chunk.copy(out, filled, this.#offset, this.#offset + n)
      filled += n
      this.#advance(n)
    }
    return out
  }
}
