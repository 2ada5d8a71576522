// The response path's single writer (issue 9 item 2): the interceptor reads writeHead's
// arguments as Node does in both of its modes, and every response the library writes is
// framed by one function. Each case failed with the two writeHead patches this replaced.
// Real parts: the bundled TypeScript runner in-process, a node:http server, undici and a
// raw socket (to read the status line) as clients.
import { once } from 'node:events'
import http from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { withExtPlugin } from '../../adapters/http.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import { createRunner, definePlugin } from '../../src/runner-server/index.js'

t.setTimeout(30_000)

const dir = mkdtempSync(join(tmpdir(), 'response-writer-'))
const socket = join(dir, 'runner.sock')
const runner = createRunner({
  plugins: [
    definePlugin({ name: 'resp-header', requestFilter: (_conf, req) => void req.respHeaders.set('x-runner', 'runner') }),
    definePlugin({ name: 'keep', responseFilter: () => {} }),
    definePlugin({ name: 'forbid', responseFilter: (_conf, res) => void res.setStatus(403) }),
  ],
})
await runner.listen(`unix:${socket}`)
const logs: string[] = []
const logger = { debug: () => {}, info: () => {}, warn: (_f: unknown, m: string) => void logs.push(m), error: (_f: unknown, m: string) => void logs.push(m) }
const ext = createExtPlugin({ runner: { socket }, logger })
t.teardown(async () => {
  await ext.close()
  await runner.close()
  rmSync(dir, { recursive: true, force: true })
})

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

async function serve(t: Test, plugin: 'ext-plugin-pre-req' | 'ext-plugin-post-resp', name: string, handler: Handler): Promise<string> {
  const route = { plugins: { [plugin]: { conf: [{ name, value: '' }] } } }
  const server = http.createServer(withExtPlugin(ext, route, handler)).listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Two GETs over one connection: the second fails if the first one's framing was wrong. */
async function twice(origin: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const agent = new Agent({ connections: 1, pipelining: 1 })
  try {
    const first = await request(`${origin}/`, { dispatcher: agent })
    const body = await first.body.text()
    const second = await request(`${origin}/`, { dispatcher: agent })
    await second.body.text()
    return { status: first.statusCode, headers: first.headers, body }
  } finally {
    await agent.close()
  }
}

async function statusLine(origin: string): Promise<string> {
  const { port } = new URL(origin)
  const client = connect(Number(port), '127.0.0.1')
  client.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
  let text = ''
  for await (const chunk of client) text += String(chunk)
  return text.slice(0, text.indexOf('\r\n'))
}

t.test('patch mode: a resp_header applies over headers given to writeHead as an array', async (t) => {
  const origin = await serve(t, 'ext-plugin-pre-req', 'resp-header', (_req, res) => {
    res.writeHead(200, ['X-Runner', 'app', 'Content-Type', 'text/plain'])
    res.end('ok')
  })
  const seen = await twice(origin)
  t.equal(seen.headers['x-runner'], 'runner', "the runner's value, not the application's")
  t.equal(seen.headers['content-type'], 'text/plain')
  t.equal(seen.body, 'ok')
})

t.test('patch mode: writeHead with a reason phrase and an object', async (t) => {
  const origin = await serve(t, 'ext-plugin-pre-req', 'resp-header', (_req, res) => {
    res.setHeader('x-runner', 'app')
    res.writeHead(201, 'Made', { 'content-type': 'text/plain' })
    res.end('ok')
  })
  t.equal(await statusLine(origin), 'HTTP/1.1 201 Made')
  const seen = await twice(origin)
  t.equal(seen.headers['x-runner'], 'runner')
  t.equal(seen.status, 201)
})

t.test('hold mode: a name given to writeHead as an array replaces the one set before, as Node does', async (t) => {
  const origin = await serve(t, 'ext-plugin-post-resp', 'keep', (_req, res) => {
    res.setHeader('content-type', 'text/html')
    res.writeHead(200, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'])
    res.end('ok')
  })
  const seen = await twice(origin)
  t.equal(seen.headers['content-type'], 'text/plain', 'one Content-Type line, the array one')
  t.same(seen.headers['set-cookie'], ['a=1', 'b=2'], 'repeated lines in the array stay')
  t.equal(seen.body, 'ok')
})

t.test("hold mode: a status the response phase replaced does not keep the application's reason phrase", async (t) => {
  const origin = await serve(t, 'ext-plugin-post-resp', 'forbid', (_req, res) => {
    res.writeHead(200, 'Fine', { 'content-type': 'text/plain' })
    res.end('ok')
  })
  t.equal(await statusLine(origin), 'HTTP/1.1 403 Forbidden')
})

t.test('hold mode: the reason phrase stays when the status does', async (t) => {
  const origin = await serve(t, 'ext-plugin-post-resp', 'keep', (_req, res) => {
    res.writeHead(200, 'Fine')
    res.end('ok')
  })
  t.equal(await statusLine(origin), 'HTTP/1.1 200 Fine')
})

t.test('a handler that throws after declaring a length gets a 500 whose length is its body', async (t) => {
  for (const plugin of ['ext-plugin-pre-req', 'ext-plugin-post-resp'] as const) {
    const origin = await serve(t, plugin, plugin === 'ext-plugin-pre-req' ? 'resp-header' : 'keep', (_req, res) => {
      res.setHeader('content-length', '100')
      res.setHeader('transfer-encoding', 'chunked')
      throw new Error('handler failed')
    })
    const seen = await twice(origin)
    t.equal(seen.status, 500, `${plugin}: 500`)
    t.equal(seen.headers['content-length'], '0', `${plugin}: Content-Length 0`)
    t.equal(seen.headers['transfer-encoding'], undefined, `${plugin}: no Transfer-Encoding`)
    t.equal(seen.body, '')
  }
  t.ok(logs.some((m) => m.includes('handler failed')), 'the failure is logged')
})

t.test('HEAD, 204 and 304 from the response phase carry no body', async (t) => {
  const origin = await serve(t, 'ext-plugin-post-resp', 'keep', (req, res) => {
    const status = Number(req.headers['x-status'] ?? 200)
    res.statusCode = status
    res.setHeader('content-type', 'text/plain')
    res.end('body')
  })
  for (const [method, status] of [['HEAD', 200], ['GET', 204], ['GET', 304]] as const) {
    const agent = new Agent({ connections: 1, pipelining: 1 })
    const first = await request(`${origin}/`, { method, dispatcher: agent, headers: { 'x-status': String(status) } })
    const body = await first.body.text()
    t.equal(first.statusCode, status)
    t.equal(body, '', `${method} ${status}: no body`)
    if (status !== 200) t.equal(first.headers['content-length'], undefined, `${status}: no Content-Length`)
    else t.equal(first.headers['content-length'], '4', 'HEAD: the length the application declared')
    const second = await request(`${origin}/`, { dispatcher: agent })
    t.equal(await second.body.text(), 'body', `${method} ${status}: the connection reads the next response`)
    await agent.close()
  }
})
