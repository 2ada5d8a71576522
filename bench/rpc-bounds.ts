// Runner connections under 200 concurrent slow calls, and RSS growth for 1000 calls whose
// 1 MiB body answers go to a runner that stops reading. Run: node --import tsx bench/rpc-bounds.ts
import * as P from '../src/protocol/index.js'
import { RunnerClient } from '../src/rpc/client.js'
import { MockRunner } from '../test/helpers/mock-runner.js'

const conf = { key: 'k' }
const request = { srcIp: Buffer.from([127, 0, 0, 1]), method: P.Method.GET, path: '/', args: [], headers: [] }
let peak = 0
const slow = await MockRunner.start({
  httpReqCall(call, m) {
    peak = Math.max(peak, m.openConnections)
    setTimeout(() => call.raw(P.encodeHTTPReqCallResponse({ id: P.decodeHTTPReqCallRequest(call.payload).id, action: undefined })), 200)
  },
})
const c1 = new RunnerClient({ socketPath: slow.path })
await Promise.allSettled(Array.from({ length: 200 }, () => c1.httpReqCall(conf, request)))
console.log(`200 slow calls: peak runner connections ${peak}`)
c1.destroy()
await slow.close()

const body = Buffer.alloc(1 << 20, 1)
const stalled = await MockRunner.start({
  httpReqCall(call) {
    call.raw(P.encodeExtraInfoRequest({ kind: P.Info.ReqBody }))
    ;(call as unknown as { pause?: () => void }).pause?.()
  },
})
const c2 = new RunnerClient({ socketPath: stalled.path, callTimeout: 5000 })
const rss0 = process.memoryUsage().rss
let maxRss = rss0
const sampler = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage().rss)), 20)
const source = { variable: () => undefined, requestBody: () => Buffer.from(body), responseBody: () => undefined }
await Promise.allSettled(Array.from({ length: 1000 }, () => c2.httpReqCall(conf, request, source)))
clearInterval(sampler)
console.log(`1000 stalled body answers: RSS growth ${((maxRss - rss0) / 2 ** 20).toFixed(0)} MiB`)
c2.destroy()
await stalled.close()
