// Web-standard bodies as the engine wants them: the whole request body as bytes, read only
// when a runner (or a filter) asks for it, within maxBodySize; and a Response body held for
// the response phase, given back as a stream, unchanged, when it is too big to hold.
import { ErrorCode, ExtPluginError } from '../errors.js'

export function bodyTooLarge(limit: number): ExtPluginError {
  return new ExtPluginError(ErrorCode.BODY_TOO_LARGE, `the request body is larger than maxBodySize (${limit} bytes)`)
}

/**
 * The request body, whole; undefined when there is none. Rejects with BODY_TOO_LARGE past
 * `limit` (checked against Content-Length before reading). The stream is consumed: the
 * caller hands the bytes to the application in a new Request.
 */
export async function readRequestBody(request: Request, limit: number): Promise<Buffer | undefined> {
  if (request.body === null) return undefined
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (declared > limit) throw bodyTooLarge(limit)
  const held = await hold(request.body, limit)
  if (held.type === 'overflow') {
    // Nothing more will be read: let the stream go (the response closes the connection).
    held.reader.releaseLock()
    throw bodyTooLarge(limit)
  }
  return held.body
}

export type Held =
  | { readonly type: 'whole'; readonly body: Buffer | undefined }
  /** Over the limit: what was read so far, and the reader positioned after it. */
  | { readonly type: 'overflow'; readonly chunks: Uint8Array[]; readonly reader: ReadableStreamDefaultReader<Uint8Array> }

/** Reads `stream` to its end, unless it holds more than `limit` bytes. */
export async function hold(stream: ReadableStream<Uint8Array>, limit: number): Promise<Held> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (value.byteLength === 0) continue
    chunks.push(value)
    size += value.byteLength
    if (size > limit) return { type: 'overflow', chunks, reader }
  }
  if (size === 0) return { type: 'whole', body: undefined }
  const body = chunks.length === 1 ? asBuffer(chunks[0]!) : Buffer.concat(chunks, size)
  return { type: 'whole', body }
}

/** A stream of `chunks`, then whatever `reader` still has. */
export function resumed(chunks: readonly Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let i = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < chunks.length) return controller.enqueue(chunks[i++]!)
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}
