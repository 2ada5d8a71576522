// A body held for a runner is not copied into the ExtraInfo answer (issue 14 item 4): the
// answer goes out as parts around the body itself. Checked by identity (counted, not timed),
// decoded by the same reader as the one-buffer answer, and end to end with the real TypeScript
// runner reading a large body through node:http.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { withExtPlugin } from '../../adapters/http.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import * as P from '../../src/protocol/index.js'
import { createRunner, definePlugin } from '../../src/runner-server/index.js'

t.setTimeout(30_000)

t.test('parts: the same bytes as the one-buffer answer, the body not copied', async (t) => {
  for (const length of [P.EXTRA_INFO_PARTS_THRESHOLD, 70_001, 70_002, 70_003, 1 << 20]) {
    const body = Buffer.alloc(length)
    for (let i = 0; i < length; i += 997) body[i] = i & 0xff
    const parts = P.encodeExtraInfoResponseParts(body)
    t.equal(parts[1], body, `${length}: the body itself is a part`)
    const whole = Buffer.concat(parts)
    t.equal(whole.length, P.encodeExtraInfoResponse({ result: body }).length, `${length}: as long as the one-buffer answer`)
    const payload = whole.subarray(P.FRAME_HEADER_LENGTH)
    t.equal(whole.readUIntBE(1, 3), payload.length, `${length}: the frame length`)
    t.ok(P.decodeExtraInfoResponse(payload).result?.equals(body), `${length}: decodes to the body`)
  }
})

t.test('a runner reads a 4 MiB body; the application gets it after', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'held-body-'))
  const socket = join(dir, 'runner.sock')
  const seen: string[] = []
  const runner = createRunner({
    plugins: [
      definePlugin({
        name: 'hash-body',
        requestFilter: async (_conf, req) => {
          const body = await req.body()
          seen.push(createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex'))
        },
      }),
    ],
  })
  await runner.listen(`unix:${socket}`)
  const ext = createExtPlugin({ runner: { socket }, maxBodySize: 8 << 20 })
  const route = { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'hash-body', value: '' }] } } }
  const server = http.createServer(
    withExtPlugin(ext, route, (req, res) => {
      const hash = createHash('sha256')
      req.on('data', (chunk: Buffer) => hash.update(chunk))
      req.on('end', () => res.end(hash.digest('hex')))
    }),
  )
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    server.close()
    await ext.close()
    await runner.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const body = Buffer.alloc(4 << 20)
  for (let i = 0; i < body.length; i += 4093) body[i] = i & 0xff
  const expected = createHash('sha256').update(body).digest('hex')
  const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST', body })
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), expected, 'the application reads the same body')
  t.same(seen, [expected], 'the runner read the body')
})
