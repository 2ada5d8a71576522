// The interop scenario table against the real Apache APISIX Go Plugin Runner.
import t from 'tap'
import { goRunner, whenBuilt } from '../helpers/interop.js'
import { runScenarios } from './scenarios.js'

t.test('Go runner (apisix-go-plugin-runner v0.5.0)', whenBuilt(goRunner), async (t) => {
  runScenarios(t, goRunner, {
    // v0.5.0 reads each frame with a single read(): a payload that does not arrive in one
    // piece (above ~200 KiB on Linux) fails inside the runner. See go-runner/README.md.
    maxExtraInfoBytes: 128 * 1024,
    // Request.SetBody arrived after v0.5.0, the only version the module proxy serves here.
    rewritesBody: false,
    // Go's url.Values has no "key without value".
    bareArgIsEmpty: true,
  })
})
