// withExtPlugin on node:https: the same listener shape, and `scheme` is https for the runner.
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Agent, request } from 'undici'
import { createExtPlugin } from '../../src/index.js'
import { withExtPlugin } from '../../adapters/http.js'
import * as P from '../../src/protocol/index.js'
import { MockRunner } from '../helpers/mock-runner.js'

t.test('an https server with the http adapter', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ext-plugin-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })

  // The runner asks for `scheme` and hands it to the application as a header.
  const mock = await MockRunner.start({
    async httpReqCall(call) {
      const scheme = (await call.ask({ kind: P.Info.Var, name: 'scheme' }))?.toString('latin1') ?? 'absent'
      const id = P.decodeHTTPReqCallRequest(call.payload).id
      call.raw(P.encodeHTTPReqCallResponse({ id, action: { type: 'rewrite', headers: [{ name: 'x-scheme', value: scheme }], args: [], respHeaders: [] } }))
    },
  })
  const ext = createExtPlugin({ runner: { socket: mock.path } })
  const route = { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'any', value: '' }] } } }
  const server = https
    .createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      withExtPlugin(ext, route, (req, res) => res.end(`scheme seen by the runner: ${req.headers['x-scheme']}`)),
    )
    .listen(0, '127.0.0.1')
  await once(server, 'listening')
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } })
  t.teardown(async () => {
    await dispatcher.close()
    server.close()
    await ext.close()
    await mock.close()
  })

  const res = await request(`https://127.0.0.1:${(server.address() as { port: number }).port}/`, { dispatcher })
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'scheme seen by the runner: https')
})
