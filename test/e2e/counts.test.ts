// What can be counted instead of timed (the performance issue's assertions): under 10 000
// requests, one PrepareConf per route config version, and runner sockets within the pool bound.
import http from 'node:http'
import { once } from 'node:events'
import t from 'tap'
import { Pool } from 'undici'
import { createExtPlugin } from '../../src/index.js'
import { withExtPlugin } from '../../adapters/http.js'
import * as P from '../../src/protocol/index.js'
import { MockRunner } from '../helpers/mock-runner.js'

t.test('10 000 requests, 32 at a time, one route updated halfway', async (t) => {
  const mock = await MockRunner.start()
  const ext = createExtPlugin({ runner: { socket: mock.path }, maxIdleConnections: 32 })
  const route = { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'noop', value: '{}' }] } } }
  const listener = withExtPlugin(ext, route, (_req, res) => res.end('ok'))
  const server = http.createServer(listener).listen(0, '127.0.0.1')
  await once(server, 'listening')
  const pool = new Pool(`http://127.0.0.1:${(server.address() as { port: number }).port}`, { connections: 32 })
  t.teardown(async () => {
    await pool.close()
    server.close()
    await ext.close()
    await mock.close()
  })

  let sent = 0
  const worker = async (): Promise<void> => {
    while (sent < 10_000) {
      const n = ++sent
      if (n === 5_000) listener.route.update({ plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'noop', value: '{"v":2}' }] } } })
      const { statusCode, body } = await pool.request({ path: '/', method: 'GET' })
      await body.text()
      if (statusCode !== 200) throw new Error(`request ${n}: ${statusCode}`)
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))

  const calls = mock.countOf(P.MessageType.RPC_HTTP_REQ_CALL)
  t.equal(calls, 10_000, 'every request made its runner call')
  t.equal(mock.countOf(P.MessageType.RPC_PREPARE_CONF), 2, 'one PrepareConf per config version')
  const stats = ext.client!.stats
  // at most one connection per request in flight (32), plus the PrepareConf ones (not kept)
  t.ok(stats.opened <= 32 + 2, `runner sockets opened: ${stats.opened}, within 32 in flight + 2 PrepareConf`)
  t.ok(stats.idle <= 32, `idle runner sockets: ${stats.idle}`)
  t.equal(mock.connections, stats.opened, 'the runner saw exactly the sockets the client opened')
})
