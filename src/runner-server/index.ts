// apisix-ext-plugin/runner: a Plugin Runner in TypeScript, the other side of the same
// protocol. APISIX (or this package's gateway) spawns it and sends it requests; its plugins
// answer them. The `apisix-ext-plugin-runner <plugins-module>` command runs one.
//
//   import { createRunner, definePlugin } from 'apisix-ext-plugin/runner'
//   const hello = definePlugin({
//     name: 'hello',
//     requestFilter(conf, request, response) { response.setStatus(200).write('hello') },
//   })
//   const runner = createRunner({ plugins: [hello] })
//   await runner.listen()          // APISIX_LISTEN_ADDRESS, APISIX_CONF_EXPIRE_TIME
export { createRunner } from './runner.js'
export type { Runner, RunnerOptions, RunnerStats } from './runner.js'
export { definePlugin } from './types.js'
export type {
  BodyInput,
  GatewayQueries,
  HeaderValue,
  ReadonlyHeaders,
  RequestArgs,
  RequestHeaders,
  ResponseHeaders,
  RunnerPlugin,
  RunnerPlugins,
  RunnerRequest,
  RunnerResponse,
  StopResponse,
} from './types.js'
export { defaultParseConf } from './confs.js'
export { formatIp } from './ip.js'
export { binaryToUtf8, utf8ToBinary } from '../protocol/bytes.js'
export type { Logger } from '../logger.js'
