// The two ends of a relayed connection (a test proxy's client and upstream sockets), kept in
// the proxy's set while they live; either end closing or failing takes both down.
import type { Socket } from 'node:net'

export function pairSockets(sockets: Set<Socket>, client: Socket, upstream: Socket): void {
  sockets.add(client).add(upstream)
  const drop = (): void => {
    client.destroy()
    upstream.destroy()
    sockets.delete(client)
    sockets.delete(upstream)
  }
  client.on('error', drop).on('close', drop)
  upstream.on('error', drop).on('close', drop)
}
