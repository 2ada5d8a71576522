// The fetch adapter on its own, as any Web-standard runtime calls a handler: Requests in,
// Responses out, no server. The real TypeScript runner behind it.
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import t from 'tap'
import { withExtPlugin } from '../../adapters/fetch.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import { conf, startRunner } from './fastify-fetch-runner.js'

t.setTimeout(30_000)

const runner = await startRunner(t)
const ext = runner.ext(t)
const origin = 'http://app.test'

/** A handler that answers with what it received. */
const echo = async (request: Request, ...rest: unknown[]): Promise<Response> =>
  Response.json({
    url: request.url,
    method: request.method,
    headers: Object.fromEntries(request.headers),
    body: request.body === null ? null : await request.text(),
    rest: rest.length,
  })

t.test('a request nothing changes is handed on as it is, with the rest of the arguments', async (t) => {
  let seen: { request: Request; rest: unknown[] } | undefined
  const env = { incoming: 'the server’s' }
  const ctx = { waitUntil() {} }
  const handler = withExtPlugin(ext, { plugins: { 'ext-plugin-pre-req': { conf: [conf('vars', { names: [] })] } } }, (request: Request, ...rest: [typeof env, typeof ctx]) => {
    seen = { request, rest }
    return new Response('ok')
  })
  const request = new Request(`${origin}/x?y=1`)
  const response = await handler(request, env, ctx)
  t.equal(await response.text(), 'ok')
  t.equal(seen?.request, request, 'the same Request object')
  t.equal(seen?.rest[0], env, 'env passed through')
  t.equal(seen?.rest[1], ctx, 'executionCtx passed through')
  t.equal(handler.route.id.length > 0, true, 'handler.route is the mounted route')
})

t.test('Stop: the runner’s answer is the Response, framed by the library', async (t) => {
  let called = 0
  const handler = withExtPlugin(
    ext,
    { plugins: { 'ext-plugin-pre-req': { conf: [conf('stop', { status: 403, body: 'no', headers: { 'x-why': 'runner', 'content-length': '99', connection: 'keep-alive' } })] } } },
    () => {
      called++
      return new Response('app')
    },
  )
  const response = await handler(new Request(`${origin}/x`))
  t.equal(response.status, 403)
  t.equal(response.headers.get('x-why'), 'runner')
  t.equal(response.headers.get('content-length'), '2', 'Content-Length is the body’s, not the runner’s')
  t.equal(response.headers.get('connection'), null, 'no connection header from a runner')
  t.equal(await response.text(), 'no')
  const head = await handler(new Request(`${origin}/x`, { method: 'HEAD' }))
  t.equal(head.status, 403)
  t.equal(head.body, null, 'HEAD: no body')
  t.equal(head.headers.get('content-length'), '2', 'HEAD: the length GET has')
  t.equal(called, 0, 'the application never ran')
})

t.test('Rewrite: the application gets the new URL, headers and query', async (t) => {
  const handler = withExtPlugin(
    ext,
    { plugins: { 'ext-plugin-pre-req': { conf: [conf('rewrite', { path: '/new', args: { a: 'b' }, headers: { 'x-added': 'yes' } })] } } },
    echo,
  )
  const response = await handler(new Request(`${origin}/old?q=1`, { headers: { 'x-kept': 'k' } }), 'env')
  const seen = (await response.json()) as { url: string; headers: Record<string, string>; rest: number }
  t.equal(seen.url, `${origin}/new?q=1&a=b`)
  t.equal(seen.headers['x-added'], 'yes')
  t.equal(seen.headers['x-kept'], 'k')
  t.equal(seen.rest, 1, 'rest passed on with the new Request')
})

t.test('a rewritten path that starts with // stays a path on the same origin', async (t) => {
  const handler = withExtPlugin(ext, { plugins: { 'ext-plugin-pre-req': { conf: [conf('rewrite', { path: '//elsewhere.test/x' })] } } }, echo)
  const seen = (await (await handler(new Request(`${origin}/old`))).json()) as { url: string }
  t.equal(seen.url, `${origin}//elsewhere.test/x`)
})

t.test('a body the runner read reaches the application whole; an untouched body streams on', async (t) => {
  const body = 'x'.repeat(100_000)
  const reading = withExtPlugin(ext, { plugins: { 'ext-plugin-pre-req': { conf: [conf('read-body')] } } }, echo)
  const seen = (await (await reading(new Request(`${origin}/up`, { method: 'POST', body }))).json()) as { body: string; headers: Record<string, string> }
  t.equal(seen.body, body, 'the application read every byte')
  t.equal(seen.headers['x-runner-length'], String(body.length), 'the runner read them too')

  const chunks = ['a', 'b', 'c']
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks.shift()
      if (chunk === undefined) controller.close()
      else controller.enqueue(Buffer.from(chunk))
    },
  })
  const passing = withExtPlugin(ext, { plugins: { 'ext-plugin-pre-req': { conf: [conf('vars', { names: ['uri'] })] } } }, echo)
  const request = new Request(`${origin}/up`, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit)
  const streamed = (await (await passing(request)).json()) as { body: string; headers: Record<string, string> }
  t.equal(streamed.body, 'abc')
  t.equal(streamed.headers['x-var-uri'], '/up')
})

t.test('the response phase works on the Response body (a stream), with a correct Content-Length', async (t) => {
  const handler = withExtPlugin(ext, { plugins: { 'ext-plugin-post-resp': { conf: [conf('resp', { status: 201, append: '!' })] } } }, () => {
    const parts = ['one,', 'two']
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = parts.shift()
        if (part === undefined) controller.close()
        else controller.enqueue(Buffer.from(part))
      },
    })
    return new Response(body, { headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' } })
  })
  const response = await handler(new Request(`${origin}/r`))
  t.equal(response.status, 201)
  t.equal(response.headers.get('x-resp'), 'runner')
  t.equal(response.headers.get('transfer-encoding'), null, 'no framing header from the held response')
  t.equal(response.headers.get('content-length'), '8')
  t.equal(await response.text(), 'one,two!')

  const noContent = withExtPlugin(ext, { plugins: { 'ext-plugin-post-resp': { conf: [conf('resp')] } } }, () => new Response(null, { status: 204 }))
  const empty = await noContent(new Request(`${origin}/r`))
  t.equal(empty.status, 204)
  t.equal(empty.headers.get('content-length'), null, 'no Content-Length on 204')
  t.equal(empty.headers.get('x-resp'), 'runner')
})

t.test('a Response over maxBodySize streams unchanged; the response phase is skipped', async (t) => {
  const small = runner.ext(t, { maxBodySize: 16 })
  const before = runner.calls.get('resp') ?? 0
  const handler = withExtPlugin(small, { plugins: { 'ext-plugin-post-resp': { conf: [conf('resp', { append: '!' })] } } }, () => new Response('a body longer than sixteen bytes'))
  const response = await handler(new Request(`${origin}/big`))
  t.equal(response.status, 200)
  t.equal(await response.text(), 'a body longer than sixteen bytes')
  t.equal(runner.calls.get('resp') ?? 0, before, 'the runner was not asked')
})

t.test('a request body over maxBodySize that the runner asks for: 413, connection closed', async (t) => {
  const small = runner.ext(t, { maxBodySize: 16 })
  let called = 0
  const handler = withExtPlugin(small, { plugins: { 'ext-plugin-pre-req': { conf: [conf('read-body')] } } }, () => {
    called++
    return new Response('app')
  })
  const response = await handler(new Request(`${origin}/up`, { method: 'POST', body: 'a body longer than sixteen bytes' }))
  t.equal(response.status, 413)
  t.equal(response.headers.get('connection'), 'close')
  t.match(await response.text(), /413 Request Entity Too Large/)
  t.equal(called, 0)
})

t.test('failures: 503, _meta.error_response, allow_degradation', async (t) => {
  const absent = createExtPlugin({ runner: { socket: join(tmpdir(), 'fetch-test-no-such-dir', 'runner.sock') }, connectTimeout: 200 })
  t.teardown(() => absent.close())
  const app = (): Response => new Response('app')
  const plain = withExtPlugin(absent, { plugins: { 'ext-plugin-pre-req': { conf: [conf('stop')] } } }, app)
  const down = await plain(new Request(`${origin}/x`))
  t.equal(down.status, 503)
  t.equal(down.headers.get('content-type'), 'text/html')
  t.match(await down.text(), /503 Service Temporarily Unavailable/)

  const custom = withExtPlugin(absent, { plugins: { 'ext-plugin-pre-req': { conf: [conf('stop')], _meta: { error_response: { error: 'runner' } } } } }, app)
  const page = await custom(new Request(`${origin}/x`))
  t.equal(page.status, 503)
  t.equal(await page.text(), '{"error":"runner"}\n')

  const degraded = withExtPlugin(absent, { plugins: { 'ext-plugin-pre-req': { conf: [conf('stop')], allow_degradation: true } } }, app)
  const passed = await degraded(new Request(`${origin}/x`))
  t.equal(passed.status, 200)
  t.equal(await passed.text(), 'app')
})

t.test('nested wrappers share the request: the inner one sees the outer rewrite, response phases run once', async (t) => {
  const before = runner.calls.get('resp') ?? 0
  const inner = withExtPlugin(
    ext,
    { plugins: { 'ext-plugin-pre-req': { conf: [conf('vars', { names: ['request_uri', 'uri'] })] }, 'ext-plugin-post-resp': { conf: [conf('resp', { append: '+route' })] } } },
    echo,
  )
  const outer = withExtPlugin(
    ext,
    { plugins: { 'ext-plugin-pre-req': { conf: [conf('rewrite', { path: '/inner', resp_headers: { 'x-global': 'g' } })] }, 'ext-plugin-post-resp': { conf: [conf('resp', { append: '+global' })] } } },
    inner,
  )
  const response = await outer(new Request(`${origin}/outer?k=v`))
  const text = await response.text()
  t.ok(text.endsWith('+global+route'), 'both response phases, global first, once each')
  t.equal(response.headers.get('x-global'), 'g', 'resp_headers applied')
  const seen = JSON.parse(text.replace(/\+global\+route$/, '')) as { url: string; headers: Record<string, string> }
  t.equal(seen.url, `${origin}/inner?k=v`)
  t.equal(seen.headers['x-var-request_uri'], '/outer?k=v', 'one Exchange: $request_uri is the original')
  t.equal(seen.headers['x-var-uri'], '/outer', 'and $uri the request’s own (APISIX: rewrites change $upstream_uri)')
  t.equal((runner.calls.get('resp') ?? 0) - before, 2)
})

t.test('a handler that throws rejects the wrapped handler (the server answers as it does for any throw)', async (t) => {
  const handler = withExtPlugin(ext, { plugins: {} }, () => {
    throw new Error('application failed')
  })
  await t.rejects(handler(new Request(`${origin}/x`)), /application failed/)
})
