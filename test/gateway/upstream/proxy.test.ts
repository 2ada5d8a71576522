// proxyRequest against real node:http / node:https upstreams on loopback (apisix-config.md §5):
// spread over weighted nodes, a dead node retried on the next, 502 and 504 with nginx's pages,
// the headers APISIX adds and removes, large bodies streamed both ways, client abort.
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { apisixErrorPage } from '../../../src/gateway/error-page.js'
import { HeaderList } from '../../../src/engine/headers.js'
import { ErrorCode } from '../../../src/errors.js'
import { proxyRequest, Upstream, type ProxyResult, type UpstreamConf } from '../../../src/gateway/upstream/index.js'

t.setTimeout(60000)

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function upstreamServer(t: Test, handler: Handler, server: Server = http.createServer()): Promise<number> {
  server.on('request', handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return (server.address() as AddressInfo).port
}

async function freePort(): Promise<number> {
  const s = http.createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

/** A gateway front: each request is proxied to `upstream`, the result written back. */
async function gateway(t: Test, conf: UpstreamConf, extra: { readWholeBody?: number; onResult?: (r: ProxyResult) => void } = {}) {
  const upstream = new Upstream(conf)
  const front = http.createServer(async (req, res) => {
    const ac = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) ac.abort()
    })
    const result = await proxyRequest({
      req,
      upstream,
      path: req.url!,
      headers: new HeaderList(req.rawHeaders, true),
      signal: ac.signal,
      readWholeBody: extra.readWholeBody,
    })
    extra.onResult?.(result)
    if (result.type === 'aborted') return
    res.writeHead(result.status, result.headers.raw as string[])
    if (result.type === 'streamed') result.body.pipe(res)
    else res.end(result.body)
  })
  const port = await upstreamServer(t, () => {}, front)
  t.teardown(() => upstream.close())
  return { url: `http://127.0.0.1:${port}`, port, upstream }
}

t.test('a few hundred requests spread by weight over real nodes', async (t) => {
  const hits = [0, 0, 0]
  const ports = await Promise.all([0, 1, 2].map((i) => upstreamServer(t, (_q, s) => { hits[i]!++; s.end(String(i)) })))
  const gw = await gateway(t, { nodes: { [`127.0.0.1:${ports[0]}`]: 5, [`127.0.0.1:${ports[1]}`]: 3, [`127.0.0.1:${ports[2]}`]: 2 } })
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`${gw.url}/x`)
    t.equal(r.status, 200)
    await r.text()
  }
  t.same(hits, [150, 90, 60], 'smooth round robin gives the exact shares per 10 picks')
})

t.test('a dead node is retried on the next; connection refused everywhere is 502', async (t) => {
  const dead = await freePort()
  let live = 0
  const port = await upstreamServer(t, (_q, s) => { live++; s.end('live') })
  const gw = await gateway(t, { nodes: { [`127.0.0.1:${dead}`]: 1, [`127.0.0.1:${port}`]: 1 } })
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${gw.url}/`, { method: 'POST', body: 'payload' })
    t.equal(r.status, 200)
    t.equal(await r.text(), 'live')
  }
  t.equal(live, 10, 'every request reached the live node')

  const dead2 = await freePort()
  let last: ProxyResult | undefined
  const all = await gateway(t, { nodes: { [`127.0.0.1:${dead}`]: 1, [`127.0.0.1:${dead2}`]: 1 } }, { onResult: (r) => (last = r) })
  const r = await fetch(`${all.url}/`)
  t.equal(r.status, 502)
  t.equal(r.headers.get('content-type'), 'text/html; charset=utf-8')
  t.equal(r.headers.get('x-apisix-upstream-status'), '502, 502', 'both nodes tried')
  t.same(Buffer.from(await r.arrayBuffer()), apisixErrorPage(502))
  t.equal(last?.type === 'error' && last.code, ErrorCode.UPSTREAM_UNREACHABLE)

  const none = await gateway(t, { nodes: { [`127.0.0.1:${dead}`]: 1, [`127.0.0.1:${dead2}`]: 1 }, retries: 0 })
  const r0 = await fetch(`${none.url}/`)
  t.equal(r0.status, 502)
  t.equal(r0.headers.get('x-apisix-upstream-status'), '502', 'retries: 0 tries once')
  await r0.arrayBuffer()
})

t.test('an upstream slower than the read timeout is 504', async (t) => {
  let calls = 0
  const port = await upstreamServer(t, (_q, s) => { calls++; setTimeout(() => s.end('late'), 1500).unref() })
  let last: ProxyResult | undefined
  const gw = await gateway(t, { nodes: { [`127.0.0.1:${port}`]: 1 }, timeout: { connect: 1, send: 1, read: 0.2 } }, { onResult: (r) => (last = r) })
  const r = await fetch(`${gw.url}/`)
  t.equal(r.status, 504)
  t.same(Buffer.from(await r.arrayBuffer()), apisixErrorPage(504))
  t.equal(last?.type === 'error' && last.code, ErrorCode.UPSTREAM_TIMEOUT)
  t.equal(calls, 1, 'one node, no retry')
})

t.test('request and response headers APISIX adds and removes; pass_host', async (t) => {
  let seen: IncomingMessage | undefined
  const port = await upstreamServer(t, (q, s) => {
    seen = q
    s.writeHead(200, [['Keep-Alive', 'timeout=99'], ['X-Up', 'a'], ['Connection', 'X-Secret'], ['X-Secret', 'hop'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']].flat())
    s.end('ok')
  })
  const cases = [
    { pass_host: 'pass' as const, host: 'client.example:8080' },
    { pass_host: 'node' as const, host: `127.0.0.1:${port}` },
    { pass_host: 'rewrite' as const, upstream_host: 'rewritten.example', host: 'rewritten.example' },
  ]
  for (const c of cases) {
    const gw = await gateway(t, { nodes: { [`127.0.0.1:${port}`]: 1 }, pass_host: c.pass_host, upstream_host: c.upstream_host })
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      http.get(`${gw.url}/p?q=1`, {
        headers: {
          Host: 'client.example:8080', 'X-Forwarded-For': '10.0.0.1', 'X-Real-IP': 'spoofed', 'X-Forwarded-Proto': 'spoofed',
          Forwarded: 'for=1.2.3.4', TE: 'trailers', Connection: 'keep-alive, X-Drop', 'X-Drop': 'x', 'X-Keep': 'y',
        },
      }, resolve).on('error', reject)
    })
    res.resume()
    await once(res, 'end')
    const h = seen!.headers
    t.equal(h.host, c.host, `Host with pass_host ${c.pass_host}`)
    t.equal(seen!.url, '/p?q=1')
    t.equal(h['x-real-ip'], '127.0.0.1')
    t.equal(h['x-forwarded-for'], '10.0.0.1, 127.0.0.1')
    t.equal(h['x-forwarded-proto'], 'http')
    t.equal(h['x-forwarded-host'], 'client.example:8080')
    t.equal(h['x-forwarded-port'], '8080')
    t.equal(h['x-keep'], 'y')
    for (const gone of ['forwarded', 'te', 'x-drop']) t.equal(h[gone], undefined, `${gone} removed`)
    t.equal(res.headers['x-up'], 'a')
    t.same(res.headers['set-cookie'], ['a=1', 'b=2'])
    // The front server sends its own Keep-Alive; the upstream's must not come through.
    t.notMatch(String(res.headers['keep-alive']), /99/, 'response Keep-Alive removed')
    t.equal(res.headers['x-secret'], undefined, 'a name Connection lists is removed')
  }
})

t.test('large bodies stream both ways; whole-body mode and its limit', async (t) => {
  const size = 8 * 1024 * 1024
  const port = await upstreamServer(t, (q, s) => {
    let n = 0
    q.on('data', (c: Buffer) => (n += c.length))
    q.on('end', () => {
      s.setHeader('x-received', String(n))
      // Echo the size back as a streamed body of the same size.
      Readable.from((function* () { for (let i = 0; i < size / 65536; i++) yield Buffer.alloc(65536, 7) })()).pipe(s)
    })
  })
  const gw = await gateway(t, { nodes: { [`127.0.0.1:${port}`]: 1 } })
  const r = await fetch(`${gw.url}/up`, { method: 'PUT', body: Readable.toWeb(Readable.from((function* () { for (let i = 0; i < size / 65536; i++) yield Buffer.alloc(65536, 1) })())) as ReadableStream, duplex: 'half' } as RequestInit)
  t.equal(r.headers.get('x-received'), String(size))
  t.equal((await r.arrayBuffer()).byteLength, size)

  const whole = await gateway(t, { nodes: { [`127.0.0.1:${port}`]: 1 } }, { readWholeBody: size })
  const w = await fetch(`${whole.url}/up`, { method: 'POST', body: 'x' })
  t.equal(w.status, 200)
  t.equal((await w.arrayBuffer()).byteLength, size)
  let last: ProxyResult | undefined
  const small = await gateway(t, { nodes: { [`127.0.0.1:${port}`]: 1 } }, { readWholeBody: size - 1, onResult: (x) => (last = x) })
  const s = await fetch(`${small.url}/up`, { method: 'POST', body: 'x' })
  t.equal(s.status, 502)
  await s.arrayBuffer()
  t.equal(last?.type === 'error' && last.code, ErrorCode.UPSTREAM_BODY_TOO_LARGE)
})

t.test('a client that leaves aborts the upstream request', async (t) => {
  let arrived!: () => void
  const reached = new Promise<void>((r) => (arrived = r))
  let upstreamClosed!: () => void
  const closed = new Promise<void>((r) => (upstreamClosed = r))
  const port = await upstreamServer(t, (q, s) => {
    s.on('close', () => upstreamClosed())
    arrived()
    s.write('partial')
  })
  let last: ProxyResult | undefined
  const gw = await gateway(t, { nodes: { [`127.0.0.1:${port}`]: 1 } }, { onResult: (r) => (last = r) })
  const req = http.get(`${gw.url}/slow`)
  req.on('error', () => {})
  req.on('response', (res) => res.once('data', () => req.destroy()))
  await reached
  await closed
  t.equal(last?.type, 'streamed', 'headers had arrived before the client left')
})

t.test('https upstream with a self-signed certificate; verify on refuses it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'up-tls-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
  const server = https.createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) })
  let proto = ''
  const port = await upstreamServer(t, (q, s) => { proto = String(q.headers['x-forwarded-proto']); s.end('secure') }, server)
  const gw = await gateway(t, { scheme: 'https', nodes: { [`127.0.0.1:${port}`]: 1 } })
  const r = await fetch(`${gw.url}/`)
  t.equal(r.status, 200)
  t.equal(await r.text(), 'secure')
  t.equal(proto, 'http', 'X-Forwarded-Proto is the client side scheme')
  const strict = await gateway(t, { scheme: 'https', nodes: { [`127.0.0.1:${port}`]: 1 }, tls: { verify: true } })
  const s = await fetch(`${strict.url}/`)
  t.equal(s.status, 502, 'an unverifiable certificate is a failed try')
  await s.arrayBuffer()
})

t.test('chash: requests with one key keep reaching one node over real sockets', async (t) => {
  const hits = new Map<string, number>()
  const ports = await Promise.all([0, 1, 2].map(() => upstreamServer(t, (q, s) => {
    const k = `${q.socket.localPort}`
    hits.set(k, (hits.get(k) ?? 0) + 1)
    s.end(k)
  })))
  const upstream = new Upstream({ type: 'chash', hash_on: 'header', key: 'x-user', nodes: Object.fromEntries(ports.map((p) => [`127.0.0.1:${p}`, 1])) })
  t.teardown(() => upstream.close())
  const front = http.createServer(async (req, res) => {
    const result = await proxyRequest({ req, upstream, path: req.url!, headers: new HeaderList(req.rawHeaders, true), hashKey: String(req.headers['x-user']) })
    if (result.type === 'aborted') return
    res.writeHead(result.status, result.headers.raw as string[])
    if (result.type === 'streamed') result.body.pipe(res)
    else res.end(result.body)
  })
  const port = await upstreamServer(t, () => {}, front)
  const answers = new Map<string, Set<string>>()
  for (let i = 0; i < 60; i++) {
    const user = `u${i % 6}`
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-user': user } })
    const set = answers.get(user) ?? new Set()
    set.add(await r.text())
    answers.set(user, set)
  }
  for (const [user, nodes] of answers) t.equal(nodes.size, 1, `${user} always on one node`)
  t.ok(new Set([...answers.values()].map((s) => [...s][0])).size > 1, 'keys spread over more than one node')
})

t.test('a bodiless request goes upstream without a body; a Buffer body gets its Content-Length', async (t) => {
  const seen: IncomingMessage[] = []
  const port = await upstreamServer(t, (q, s) => { seen.push(q); q.resume(); q.on('end', () => s.end()) })
  const gw = await gateway(t, { nodes: { [`127.0.0.1:${port}`]: 1 } })
  const r = await fetch(`${gw.url}/d`, { method: 'DELETE' })
  await r.arrayBuffer()
  t.equal(seen[0]!.headers['transfer-encoding'], undefined)
  t.equal(seen[0]!.headers['content-length'], undefined)

  const upstream = new Upstream({ nodes: { [`127.0.0.1:${port}`]: 1 } })
  t.teardown(() => upstream.close())
  const front = http.createServer(async (req, res) => {
    const result = await proxyRequest({ req, upstream, path: '/b', headers: ['Host', 'h', 'Content-Length', '99', 'Transfer-Encoding', 'chunked'], body: Buffer.from('hello') })
    if (result.type === 'streamed') result.body.resume()
    res.end()
  })
  const fport = await upstreamServer(t, () => {}, front)
  await (await fetch(`http://127.0.0.1:${fport}/`, { method: 'POST', body: 'ignored' })).arrayBuffer()
  t.equal(seen[1]!.headers['content-length'], '5', 'recomputed for the buffer')
  t.equal(seen[1]!.headers['transfer-encoding'], undefined)
  t.equal(seen[1]!.headers.host, 'h', 'raw pairs accepted as headers')
})

t.test('retry_timeout: a retry that would start after the deadline ends in 502', async (t) => {
  let live = 0
  const slow = await upstreamServer(t, (_q, s) => { setTimeout(() => s.end('late'), 1500).unref() })
  const fast = await upstreamServer(t, (_q, s) => { live++; s.end('ok') })
  const nodes = [{ host: '127.0.0.1', port: slow, weight: 1, priority: 1 }, { host: '127.0.0.1', port: fast, weight: 1 }]
  let last: ProxyResult | undefined
  // The slow node has the higher priority, so it is always tried first; its read timeout
  // (0.2 s) outlasts the 1 ms retry deadline.
  const bounded = await gateway(t, { nodes, timeout: { read: 0.2 }, retry_timeout: 0.001 }, { onResult: (r) => (last = r) })
  const r = await fetch(`${bounded.url}/`)
  t.equal(r.status, 502)
  await r.arrayBuffer()
  t.equal(last?.type === 'error' && last.code, ErrorCode.UPSTREAM_RETRY_TIMEOUT)
  t.equal(live, 0, 'the retry never started')
  const unbounded = await gateway(t, { nodes, timeout: { read: 0.2 } })
  const u = await fetch(`${unbounded.url}/`)
  t.equal(u.status, 200, 'without retry_timeout the timeout is retried on the next node')
  t.equal(await u.text(), 'ok')
  t.equal(live, 1)
})

t.test("APISIX's error pages: exact bodies and lengths (§5.6)", async (t) => {
  const lengths: Record<number, number> = { 400: 229, 404: 225, 500: 249, 502: 229, 503: 269, 504: 239 }
  for (const [status, length] of Object.entries(lengths)) t.equal(apisixErrorPage(Number(status)).length, length, `${status} is ${length} bytes`)
  t.equal(
    apisixErrorPage(502).toString(),
    '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>openresty</center>\r\n<p><em>Powered by <a href="https://apisix.apache.org/">APISIX</a>.</em></p></body>\r\n</html>\r\n',
  )
})

t.test('empty nodes are 503; an unresolvable name is 500 inline, 502 by id (§5.1)', async (t) => {
  let last: ProxyResult | undefined
  const empty = await gateway(t, { nodes: {} }, { onResult: (r) => (last = r) })
  const r = await fetch(`${empty.url}/`)
  t.equal(r.status, 503)
  t.same(Buffer.from(await r.arrayBuffer()), apisixErrorPage(503))
  t.equal(r.headers.get('x-apisix-upstream-status'), null, 'no upstream was tried')
  t.equal(last?.type === 'error' && last.code, ErrorCode.UPSTREAM_NO_NODES)

  const inline = await gateway(t, { nodes: { 'no-such-host.invalid:80': 1 } }, { onResult: (r) => (last = r) })
  const ri = await fetch(`${inline.url}/`)
  t.equal(ri.status, 500)
  t.same(Buffer.from(await ri.arrayBuffer()), apisixErrorPage(500))
  t.equal(last?.type === 'error' && last.code, ErrorCode.UPSTREAM_DNS)
  const named = await gateway(t, { id: 'u', nodes: { 'no-such-host.invalid:80': 1 } })
  const rn = await fetch(`${named.url}/`)
  t.equal(rn.status, 502)
  await rn.arrayBuffer()
})

t.test('timeout.send: an upstream that stops reading the body is 504', async (t) => {
  const port = await upstreamServer(t, (req) => req.pause()) // never reads, never answers
  let last: ProxyResult | undefined
  const gw = await gateway(t, { nodes: { [`127.0.0.1:${port}`]: 1 }, timeout: { connect: 1, send: 0.3, read: 30 } }, { onResult: (r) => (last = r) })
  // More than the loopback socket buffers hold, sent as fast as the gateway takes it.
  const chunk = Buffer.alloc(1 << 20)
  let sent = 0
  const body = new Readable({
    read() {
      this.push(sent++ < 64 ? chunk : null)
    },
  })
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = http.request(`${gw.url}/upload`, { method: 'PUT', headers: { 'content-length': String(64 << 20) } }, resolve)
    req.on('error', reject)
    body.pipe(req)
  })
  t.equal(res.statusCode, 504)
  res.resume()
  t.equal(last?.type === 'error' && last.code, ErrorCode.UPSTREAM_TIMEOUT)
  t.ok(sent < 64, 'the client body was not read to its end')
})
