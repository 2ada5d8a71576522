// A real etcd server for tests (Debian's etcd-server 3.4, /usr/bin/etcd): free loopback
// ports, a temporary data directory, readiness from its /health endpoint. stop() and
// start() keep the ports and the data, so a test can take etcd away and bring the same
// server (same revisions, same keys) back; close() stops it and removes the data.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { pairSockets } from './socket-pair.js'

export interface EtcdServer {
  /** `http://127.0.0.1:<port>`, for the gateway's `hosts`. */
  readonly url: string
  readonly dataDir: string
  /** Whether the process is running now. */
  readonly running: boolean
  /** Stops the process (SIGTERM, then SIGKILL after 3 s); the data stays. */
  stop(): Promise<void>
  /** Starts it again on the same ports and data; resolves when it answers /health. */
  start(): Promise<void>
  /** Stops it and removes the data directory. */
  close(): Promise<void>
  /** What the server wrote to stderr, for a failing test's diagnosis. */
  readonly output: () => string
}

const ETCD = process.env.ETCD_BIN ?? 'etcd'

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export async function startEtcd(): Promise<EtcdServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'etcd-test-'))
  const clientPort = await freePort()
  const peerPort = await freePort()
  const url = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let output = ''

  const start = async (): Promise<void> => {
    if (child !== undefined) return
    const proc = spawn(
      ETCD,
      [
        '--name', 'test',
        '--data-dir', dataDir,
        '--listen-client-urls', url,
        '--advertise-client-urls', url,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `test=${peer}`,
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    child = proc
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output = (output + chunk).slice(-20_000)
    })
    exited = new Promise((resolve) => proc.once('exit', () => resolve()))
    void exited.then(() => {
      if (child === proc) child = undefined
    })
    const deadline = Date.now() + 15_000
    for (;;) {
      if (child !== proc) throw new Error(`etcd exited before it was ready:\n${output}`)
      try {
        const res = await request(`${url}/health`, { headersTimeout: 1000, bodyTimeout: 1000 })
        const body = await res.body.text()
        if (res.statusCode === 200 && body.includes('true')) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy in 15 s:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  const stop = async (): Promise<void> => {
    const proc = child
    if (proc === undefined) return
    const kill = setTimeout(() => proc.kill('SIGKILL'), 3000)
    proc.kill('SIGTERM')
    await exited
    clearTimeout(kill)
    child = undefined
  }

  await start()
  return {
    url,
    dataDir,
    get running() {
      return child !== undefined
    },
    stop,
    start,
    close: async () => {
      await stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
    output: () => output,
  }
}

export interface EtcdProxy {
  /** `http://127.0.0.1:<port>`: give this to a gateway instead of the server's url. */
  readonly url: string
  /** Cuts every connection through the proxy and refuses new ones (etcd itself stays up). */
  block(): void
  unblock(): void
  close(): Promise<void>
}

/**
 * A TCP proxy in front of etcd, so a test can take one client's connection away while it
 * keeps writing to etcd directly (compaction while a gateway is disconnected).
 */
export async function etcdProxy(target: string): Promise<EtcdProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let blocked = false
  const server = createServer((client) => {
    if (blocked) return void client.destroy()
    const upstream = connect(Number(port), hostname)
    pairSockets(sockets, client, upstream)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const proxyPort = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    block() {
      blocked = true
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    },
    unblock() {
      blocked = false
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
