// A client body handed to undici without giving it away: undici destroys the stream it was
// given when a try fails, and destroying the client's IncomingMessage would kill the client's
// socket before it gets its 502. The wrapper reads from the source only once undici pulls,
// so a try that failed before sending a byte leaves the source untouched for the next try.
import { Readable } from 'node:stream'

export interface BorrowedBody {
  readonly stream: Readable
  /** True once a byte may have left the source: the body can no longer be sent again. */
  readonly started: () => boolean
}

export function borrowBody(source: Readable): BorrowedBody {
  let started = false
  const onData = (chunk: Buffer): void => {
    if (!stream.push(chunk)) source.pause()
  }
  const onEnd = (): void => {
    stream.push(null)
  }
  const onError = (err: Error): void => {
    stream.destroy(err)
  }
  const detach = (): void => {
    source.off('data', onData)
    source.off('end', onEnd)
    source.off('error', onError)
    if (!source.readableEnded) source.pause()
  }
  const stream = new Readable({
    read() {
      if (!started) {
        started = true
        if (source.readableEnded) {
          this.push(null)
          return
        }
        source.on('data', onData)
        source.once('end', onEnd)
        source.once('error', onError)
      }
      source.resume()
    },
    destroy(err, callback) {
      detach()
      callback(err)
    },
  })
  stream.once('end', detach)
  return { stream, started: () => started }
}
