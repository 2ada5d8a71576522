// What one gateway connection may cost the runner: conf bytes, idle time, frame size and
// the time a frame may take to arrive. Each limit is set small and crossed on purpose.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import * as P from '../../src/protocol/index.js'
import { definePlugin } from '../../src/runner-server/index.js'
import { reqCallRequest, serve, stopOf, text, until } from './fixtures/gateway.js'

const echo = definePlugin({ name: 'echo', requestFilter: (_c, _r, response) => void response.setStatus(200).write('ok') })
const slow = definePlugin({
  name: 'slow',
  requestFilter: async (_c, _r, response) => {
    await sleep(400)
    response.setStatus(200).write('slept')
  },
})
const plugins = [echo, slow]

/** A frame header alone: type and announced length. */
const header = (type: number, length: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(((type << 24) | length) >>> 0)
  return b
}

t.test('maxConfBytes bounds the conf cache in bytes', async (t) => {
  const { client, runner } = await serve(t, plugins, { maxConfBytes: 4000 })
  const c = await client()
  const value = JSON.stringify({ pad: 'x'.repeat(1000) })
  const tokens: number[] = []
  for (let i = 0; i < 10; i++) tokens.push(await c.prepare([['echo', value]], `key-${i}`))
  t.ok(runner.stats.confs <= 3, `at most 3 confs of ~1.3 kB in 4000 bytes (held ${runner.stats.confs})`)
  // The most recent one is still served.
  const answer = await c.call(P.encodeHTTPReqCallRequest(reqCallRequest(tokens[9]!, { id: 1 })))
  t.equal(text(stopOf(answer).body), 'ok')
})

t.test('idleTimeout closes a connection that sends nothing, not one with a call in progress', async (t) => {
  const { client, logger } = await serve(t, plugins, { idleTimeout: 150 })
  const idle = await client()
  t.ok(await until(() => idle.socket.destroyed || idle.socket.readableEnded, 5000), 'idle connection closed')
  await idle.closed
  t.ok(logger.has('info', /idle for 150 ms/))

  const busy = await client()
  const token = await busy.prepare([['slow', '']])
  const answer = await busy.call(P.encodeHTTPReqCallRequest(reqCallRequest(token, { id: 2 })))
  t.equal(text(stopOf(answer).body), 'slept', 'a call longer than idleTimeout is answered')
})

t.test('maxFrameSize: a header announcing more is refused at once', async (t) => {
  const { client, logger, runner } = await serve(t, plugins, { maxFrameSize: 1024 })
  const c = await client()
  c.send(header(P.MessageType.RPC_HTTP_REQ_CALL, 2000))
  await c.closed
  t.ok(logger.has('warn', /announces 2000 bytes, over maxFrameSize 1024/))
  // A frame within the bound is served as usual.
  const ok = await client()
  const token = await ok.prepare([['echo', '']])
  t.ok(token > 0)
  t.equal(runner.stats.connections, 1)
})

t.test('frameTimeout drops a frame that stalls half-way', async (t) => {
  const { client, logger } = await serve(t, plugins, { frameTimeout: 200, idleTimeout: 60_000 })
  const c = await client()
  c.send(Buffer.concat([header(P.MessageType.RPC_HTTP_REQ_CALL, 100), Buffer.alloc(10)]))
  await c.closed
  t.ok(logger.has('warn', /did not arrive within frameTimeout 200 ms \(data truncated: got 10 of 100/))
})

t.test('invalid limits are refused', async (t) => {
  const { createRunner } = await import('../../src/runner-server/index.js')
  for (const name of ['maxConfBytes', 'idleTimeout', 'maxFrameSize', 'frameTimeout']) {
    t.throws(() => createRunner({ plugins, [name]: 0 }), { code: 'EXT_ERR_INVALID_OPTIONS' }, name)
  }
})
