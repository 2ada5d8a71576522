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

export interface SendTimeout {
  /** Milliseconds the consumer may leave a chunk untaken (nginx's proxy_send_timeout). */
  readonly timeout: number
  readonly onTimeout: () => void
}

/**
 * `send`: when the consumer (undici writing to the upstream) stops taking the body, for
 * longer than `send.timeout`, `send.onTimeout` is called. A client that is slow to send
 * does not count: the clock runs only while a chunk waits for the consumer.
 */
export function borrowBody(source: Readable, send?: SendTimeout): BorrowedBody {
  let started = false
  let stall: NodeJS.Timeout | undefined
  const waiting = (): void => {
    if (send !== undefined && stall === undefined) stall = setTimeout(send.onTimeout, send.timeout)
  }
  const taken = (): void => {
    clearTimeout(stall)
    stall = undefined
  }
  const onData = (chunk: Buffer): void => {
    if (!stream.push(chunk)) {
      source.pause()
      waiting()
    }
  }
  const onEnd = (): void => {
    stream.push(null)
  }
  const onError = (err: Error): void => {
    stream.destroy(err)
  }
  const detach = (): void => {
    taken()
    source.off('data', onData)
    source.off('end', onEnd)
    source.off('error', onError)
    if (!source.readableEnded) source.pause()
  }
  const stream = new Readable({
    read() {
      taken()
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
