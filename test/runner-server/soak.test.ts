// 100 000 calls over a few connections (PrepareConf, HTTPReqCall with and without an
// ExtraInfo round, HTTPRespCall): every answer right, and no growth of open handles or
// runner connections afterwards.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import * as P from '../../src/protocol/index.js'
import { definePlugin } from '../../src/runner-server/index.js'
import { reqAction, respOf, serve, stopOf, text, until, type RawClient } from './fixtures/gateway.js'

const CALLS = 100_000
const CONNECTIONS = 8

const noop = definePlugin({ name: 'noop' })
const echoVar = definePlugin({
  name: 'echo-var',
  requestFilter: async (_c, request, response) => void response.setStatus(200).write((await request.var('n')) ?? '-'),
})
const header = definePlugin({ name: 'header', responseFilter: (_c, response) => void response.headers.set('x-soak', '1') })

/** Handle counts by kind; timers come and go (lru-cache keeps one briefly), so they are left out. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) if (kind !== 'Timeout' && kind !== 'Immediate') counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

t.test(`${CALLS} calls over ${CONNECTIONS} connections`, { timeout: 60_000 }, async (t) => {
  const { client, runner } = await serve(t, [noop, echoVar, header])
  const baseline = handles()
  const clients: RawClient[] = []
  for (let i = 0; i < CONNECTIONS; i++) clients.push(await client())
  const tokens = {
    noop: await clients[0]!.prepare([['noop', '']], 'route#1#ext-plugin-pre-req#1'),
    echo: await clients[0]!.prepare([['echo-var', '']], 'route#1#ext-plugin-post-req#1'),
    resp: await clients[0]!.prepare([['header', '']], 'route#1#ext-plugin-post-resp#1'),
  }
  const connected = handles()
  const started = performance.now()
  let wrong = 0

  await Promise.all(
    clients.map(async (c, k) => {
      for (let i = k; i < CALLS; i += CONNECTIONS) {
        if (i % 1000 === 0) {
          if ((await c.prepare([['noop', '']], 'route#1#ext-plugin-pre-req#1')) !== tokens.noop) wrong++
        } else if (i % 10 === 0) {
          const frame = await c.reqCall(tokens.echo, { id: i % P.CALL_ID_WRAP }, () => ({ result: String(i) }))
          if (text(stopOf(frame).body) !== String(i)) wrong++
        } else if (i % 7 === 0) {
          const reply = respOf(await c.respCall(tokens.resp, { id: i, headers: [{ name: 'a', value: 'b' }] }))
          if (reply.headers.length !== 2) wrong++
        } else {
          const reply = reqAction(await c.reqCall(tokens.noop, { id: i }))
          if (reply.id !== i || reply.actionType !== P.Action.NONE) wrong++
        }
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  t.equal(wrong, 0, 'every answer right')
  t.comment(`${CALLS} calls in ${seconds.toFixed(1)} s (${Math.round(CALLS / seconds)} calls/s)`)
  t.ok(runner.stats.served >= CALLS + 3)
  t.equal(runner.stats.confs, 3, 'same keys, same three confs')
  await sleep(20)
  t.same(handles(), connected, 'no handle growth while connected')

  for (const c of clients) c.end()
  await Promise.all(clients.map((c) => c.closed))
  t.ok(await until(() => runner.stats.connections === 0), 'the runner let go of every connection')
  await sleep(20)
  t.same(handles(), baseline, 'back to the handles before the clients connected')
})
