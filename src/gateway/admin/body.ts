// The request body, read up to APISIX's Admin API bound (1.5 MiB) and no further: a declared
// length over it is refused before a byte is read, a chunked body as soon as it passes it.
import type { IncomingMessage } from 'node:http'

export const MAX_BODY = 1.5 * 1024 * 1024

export type BodyResult =
  | { readonly state: 'read'; readonly text: string }
  | { readonly state: 'too-large'; readonly size: number }
  | { readonly state: 'aborted' }

export function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({ state: 'too-large', size: declared })
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (result: BodyResult): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onError)
      resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        chunks.length = 0
        req.pause()
        done({ state: 'too-large', size })
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => done({ state: 'read', text: Buffer.concat(chunks).toString('utf8') })
    const onError = (): void => done({ state: 'aborted' })
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('aborted', onError)
  })
}

/** APISIX's words (core.request.get_body) for a body over the bound. */
export function tooLargeMessage(size: number, limit = MAX_BODY): string {
  return `invalid request body: request size ${size} is greater than the maximum size ${limit} allowed`
}
