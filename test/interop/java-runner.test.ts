// The interop scenario table against the real Apache APISIX Java Plugin Runner 0.4.0.
import t from 'tap'
import { javaRunner, whenBuilt } from '../helpers/interop.js'
import { runScenarios } from './scenarios.js'

t.test('Java runner (apisix-runner-core 0.4.0)', whenBuilt(javaRunner), async (t) => {
  // Its plugin API and wire quirks, all observed (java-runner/README.md):
  runScenarios(t, javaRunner, {
    // reads whole frames: bodies up to the frame limit go through
    maxExtraInfoBytes: 8 << 20,
    // 0.4.0 predates Rewrite.body
    rewritesBody: false,
    // bare args reach plugins as null, unlike Go's url.Values
    bareArgIsEmpty: false,
    // headers and args are maps: one value per name
    repeatedNames: false,
    // PostFilter's API has no response headers for a Rewrite
    respHeaders: false,
    // absent and empty ExtraInfo results both read as ""
    absentDistinct: false,
    // after an ExtraInfo round it reads status and headers from a released buffer
    respInfo: false,
    // tokens are random; the key is ignored
    idempotentKeys: false,
    // InetAddress prints ::1 as 0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1
    ipv6Text: false,
  })
})
