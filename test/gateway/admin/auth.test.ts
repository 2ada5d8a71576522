// The Admin API's security defaults: a required key (no default), the viewer role, the
// header-only key unless the query/cookie forms are allowed, 127.0.0.1, the 1.5 MiB body bound.
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { ConfigError, ErrorCode } from '../../../src/errors.js'
import { ADMIN_KEY, VIEWER_KEY, call, closeServer, mount, sharedWorld } from './setup.js'

t.setTimeout(60_000)

const w = sharedWorld(t)

const A = '/apisix/admin'
const config = (port: number) => ({ upstreams: [{ id: 'u1', nodes: { [`127.0.0.1:${port}`]: 1 } }], routes: [{ id: 'r1', uri: '/r1', upstream_id: 'u1' }] })

t.test('no key, no Admin API: adminApi() and listenAdmin() throw a ConfigError', async (t) => {
  const gw = w().ext.gateway(config(w().a.port))
  t.teardown(() => gw.close())
  const cases: Array<[string, unknown]> = [
    ['no options', undefined],
    ['no key', {}],
    ['an empty key', { key: '' }],
    ['a key that is not a string', { key: 42 }],
    ['an empty viewer key', { key: 'k', viewerKey: '' }],
    ['the viewer key equal to the admin key', { key: 'k', viewerKey: 'k' }],
  ]
  for (const [what, options] of cases) {
    for (const start of [() => gw.adminApi(options as never), () => gw.listenAdmin(options as never)]) {
      let thrown: unknown
      try {
        await start()
      } catch (err) {
        thrown = err
      }
      t.ok(thrown instanceof ConfigError && thrown.code === ErrorCode.ADMIN_OPTIONS, `${what}: ${String(thrown)}`)
    }
  }
})

t.test('listenAdmin binds 127.0.0.1 by default, port 9180 unless told', async (t) => {
  const gw = w().ext.gateway(config(w().a.port))
  t.teardown(() => gw.close())
  const server = await gw.listenAdmin({ key: ADMIN_KEY, port: 0 })
  t.equal((server.address() as AddressInfo).address, '127.0.0.1')
  await closeServer(server)
  // the default port is APISIX's; another process may hold it on a shared machine
  try {
    const standard = await gw.listenAdmin({ key: ADMIN_KEY })
    t.equal((standard.address() as AddressInfo).port, 9180)
    await closeServer(standard)
  } catch (err) {
    t.match((err as Error).message, /9180/, 'it tried 9180')
  }
})

t.test('key checks: 401 envelopes', async (t) => {
  const m = await mount(w(), config(w().a.port))
  t.teardown(() => m.close())
  const refused = (description: string) => ({ error_msg: 'failed to check token', description })
  const table: Array<[string, string, string, string | null, Record<string, string>, number, unknown]> = [
    ['no key', 'GET', `${A}/routes`, null, {}, 401, refused('missing apikey')],
    ['a wrong key', 'GET', `${A}/routes`, 'nope', {}, 401, refused('wrong apikey')],
    ['a key one byte short', 'GET', `${A}/routes`, ADMIN_KEY.slice(0, -1), {}, 401, refused('wrong apikey')],
    ['an empty key', 'GET', `${A}/routes`, '', {}, 401, refused('wrong apikey')],
    ['the viewer reading', 'GET', `${A}/routes/r1`, VIEWER_KEY, {}, 200, undefined],
    ['the viewer listing plugins', 'GET', `${A}/plugins/list`, VIEWER_KEY, {}, 200, undefined],
    ['the viewer writing (PUT)', 'PUT', `${A}/routes/r1`, VIEWER_KEY, {}, 401, refused('invalid method for role viewer')],
    ['the viewer writing (POST)', 'POST', `${A}/routes`, VIEWER_KEY, {}, 401, refused('invalid method for role viewer')],
    ['the viewer writing (PATCH)', 'PATCH', `${A}/routes/r1`, VIEWER_KEY, {}, 401, refused('invalid method for role viewer')],
    ['the viewer writing (DELETE)', 'DELETE', `${A}/routes/r1`, VIEWER_KEY, {}, 401, refused('invalid method for role viewer')],
    ['the viewer reloading plugins', 'PUT', `${A}/plugins/reload`, VIEWER_KEY, {}, 401, refused('invalid method for role viewer')],
    ['no key on plugins/list', 'GET', `${A}/plugins/list`, null, {}, 401, refused('missing apikey')],
    ['the key in the query (not allowed)', 'GET', `${A}/routes?api_key=${ADMIN_KEY}`, null, {}, 401, refused('missing apikey')],
    ['the key in a cookie (not allowed)', 'GET', `${A}/routes`, null, { cookie: `x_api_key=${ADMIN_KEY}` }, 401, refused('missing apikey')],
    ['before the resource is looked at', 'GET', `${A}/foo`, null, {}, 401, refused('missing apikey')],
    ['the admin key', 'GET', `${A}/routes`, ADMIN_KEY, {}, 200, undefined],
  ]
  for (const [what, method, path, key, headers, status, body] of table) {
    const res = await call(m.admin, method, path, method === 'GET' || method === 'DELETE' ? undefined : { uri: '/r1', upstream_id: 'u1' }, key, headers)
    t.equal(res.status, status, what)
    if (body !== undefined) t.same(res.json, body, what)
  }
  const route = await call(m.admin, 'GET', `${A}/routes/r1`)
  t.notOk((route.json as { value: { desc?: string } }).value.desc, 'no refused write landed')
})

t.test('the query and cookie forms, when allowed', async (t) => {
  const m = await mount(w(), config(w().a.port), {}, { allowKeyInQueryAndCookie: true })
  t.teardown(() => m.close())
  t.equal((await call(m.admin, 'GET', `${A}/routes?api_key=${ADMIN_KEY}`, undefined, null)).status, 200, 'query')
  t.equal((await call(m.admin, 'GET', `${A}/routes`, undefined, null, { cookie: `other=1; x_api_key=${ADMIN_KEY}` })).status, 200, 'cookie')
  t.equal((await call(m.admin, 'GET', `${A}/routes`)).status, 200, 'header')
  const viewer = await call(m.admin, 'PUT', `${A}/routes/r1?api_key=${VIEWER_KEY}`, { uri: '/r1', upstream_id: 'u1' }, null)
  t.same(viewer.json, { error_msg: 'failed to check token', description: 'invalid method for role viewer' })
  const wrong = await call(m.admin, 'GET', `${A}/routes?api_key=nope`, undefined, null)
  t.same(wrong.json, { error_msg: 'failed to check token', description: 'wrong apikey' })
})

/** A raw HTTP exchange: headers, then body chunks until the server answers; what was sent and what came back. */
async function rawExchange(port: number, head: string, chunk: Buffer, maxChunks: number): Promise<{ sent: number; answer: string }> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  let answer = ''
  let ended = false
  socket.on('data', (data) => {
    answer += data.toString()
  })
  const done = new Promise<void>((resolve) => {
    socket.once('close', () => {
      ended = true
      resolve()
    })
    socket.once('error', () => undefined)
  })
  socket.write(head)
  let sent = 0
  for (let i = 0; i < maxChunks && answer === '' && !ended; i++) {
    const ok = socket.write(chunk)
    sent += chunk.length
    // wait for the server to take more, or to answer; read what came meanwhile
    if (!ok) await new Promise((resolve) => (socket.once('drain', resolve), socket.once('data', resolve), socket.once('close', resolve)))
    await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 2000))])
  socket.destroy()
  return { sent, answer }
}

t.test('bodies over 1.5 MiB are refused (400, APISIX message) without being read whole', async (t) => {
  const m = await mount(w(), config(w().a.port))
  t.teardown(() => m.close())
  const limit = 1.5 * 1024 * 1024
  const port = Number(new URL(m.admin).port)
  // exactly at the bound: read and stored
  const json = JSON.stringify({ uri: '/big', upstream_id: 'u1' })
  const atLimit = json + ' '.repeat(limit - json.length)
  const ok = await call(m.admin, 'PUT', `${A}/routes/big`, atLimit)
  t.equal(ok.status, 201, 'a body of exactly 1.5 MiB is accepted')
  // a declared length over it: refused before reading
  const declared = await rawExchange(
    port,
    `PUT ${A}/routes/big HTTP/1.1\r\nHost: x\r\nX-API-KEY: ${ADMIN_KEY}\r\nContent-Length: ${limit + 1}\r\n\r\n`,
    Buffer.alloc(0),
    0,
  )
  t.match(declared.answer, /^HTTP\/1\.1 400 /)
  t.match(declared.answer, `{"error_msg":"invalid request body: request size ${limit + 1} is greater than the maximum size ${limit} allowed"}`)
  t.match(declared.answer, /connection: close/i)
  // chunked, no length: refused once past the bound; the server stops reading
  const chunk = Buffer.from(`10000\r\n${' '.repeat(0x10000)}\r\n`)
  const streamed = await rawExchange(
    port,
    `PUT ${A}/routes/big HTTP/1.1\r\nHost: x\r\nX-API-KEY: ${ADMIN_KEY}\r\nTransfer-Encoding: chunked\r\n\r\ne\r\n{"uri":"/big",\r\n`,
    chunk,
    1024,
  )
  t.match(streamed.answer, /^HTTP\/1\.1 400 /)
  t.match(streamed.answer, /invalid request body: request size \d+ is greater than the maximum size 1572864 allowed/)
  t.ok(streamed.sent < 64 * 1024 * 1024, `the client stopped long before 64 MiB (sent ${streamed.sent})`)
  const stored = await call(m.admin, 'GET', `${A}/routes/big`)
  t.equal((stored.json as { value: { uri: string } }).value.uri, '/big', 'the refused bodies changed nothing')
})
