// How text travels on the wire. FlatBuffers strings carry raw bytes and header values may
// not be UTF-8, so the codecs never decode or encode UTF-8. A JavaScript string given to
// or returned by a codec is a *binary string*: one char per byte (latin1), which is also how
// node:http presents header bytes. Give a Uint8Array to send arbitrary bytes unchanged.

/** Raw bytes, or a binary (latin1) string. */
export type WireText = string | Uint8Array

/** One name/value pair: a header, a query argument or a conf entry. */
export interface TextEntry {
  readonly name: WireText
  /** Absent means "delete" in Rewrite headers/args and "bare key" in request args. */
  readonly value?: WireText | undefined
}

/** A decoded TextEntry: names and values as binary strings. */
export interface DecodedTextEntry {
  readonly name: string
  readonly value: string | undefined
}

/** A UTF-8 JavaScript string as a binary string, e.g. to send user-written conf text. */
export function utf8ToBinary(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1')
}

/** A binary string (UTF-8 bytes, one per char) back to the text it encodes. */
export function binaryToUtf8(binary: string): string {
  return Buffer.from(binary, 'latin1').toString('utf8')
}

// Buffer's latin1 fast paths. They exist on every Node Buffer (Buffer#toString and #write
// dispatch to them) but @types/node does not declare them; calling them directly skips
// the encoding-name lookup on the hot path.
interface Latin1Buffer {
  latin1Write(text: string, offset: number, length: number): number
  latin1Slice(start: number, end: number): string
}

/** Below this length a JavaScript loop beats the native call's fixed cost (measured). */
const NATIVE_WRITE_MIN = 24

export function writeBinary(buf: Buffer, text: string, offset: number): void {
  const length = text.length
  if (length >= NATIVE_WRITE_MIN) {
    ;(buf as unknown as Latin1Buffer).latin1Write(text, offset, length)
    return
  }
  for (let i = 0; i < length; i++) buf[offset + i] = text.charCodeAt(i)
}

export function readBinary(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Buffer).latin1Slice(start, end)
}
