// The interop scenario table against this package's own runner (apisix-ext-plugin/runner),
// a separate process started through the bin script, as APISIX starts a runner.
import t from 'tap'
import { tsRunner, whenBuilt } from '../helpers/interop.js'
import { runScenarios } from './scenarios.js'

t.test('TypeScript runner (apisix-ext-plugin/runner)', whenBuilt(tsRunner), async (t) => {
  runScenarios(t, tsRunner, {
    // Frames are reassembled from any number of reads: 8 MiB (the table's cap) round-trips.
    maxExtraInfoBytes: 8 << 20,
    // RunnerRequest.setBody sends Rewrite.body.
    rewritesBody: true,
    // A bare key reaches plugins as null, an empty value as ''.
    bareArgIsEmpty: false,
  })
})
