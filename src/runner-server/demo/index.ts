// Demo plugins for apisix-ext-plugin-runner, small on purpose: read them as documentation.
//
//   npx apisix-ext-plugin-runner apisix-ext-plugin/runner/demo
//
// auth          401 unless a header carries a known key          (request phase, Stop)
// rewrite-path  prefix or regex path rewrite, plus headers        (request phase, Rewrite)
// redact        masks patterns in text/JSON response bodies       (response phase)
// echo          answers with what the runner saw                  (request phase, ExtraInfo)
import { auth } from './auth.js'
import { echo } from './echo.js'
import { redact } from './redact.js'
import { rewritePath } from './rewrite-path.js'
import type { RunnerPlugin } from '../types.js'

export { auth, echo, redact, rewritePath }
export type { AuthConf } from './auth.js'
export type { EchoConf } from './echo.js'
export type { RedactConf } from './redact.js'
export type { RewritePathConf } from './rewrite-path.js'

export const plugins: ReadonlyArray<RunnerPlugin<unknown>> = [auth, rewritePath, redact, echo]
export default plugins
