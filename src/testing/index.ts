// apisix-ext-plugin/testing: a runner for your own tests. Its plugins are written as for
// apisix-ext-plugin/runner; it records what the gateway sent and fails on demand.
//
//   const runner = await fakeRunner({ plugins: [auth] })
//   const ext = createExtPlugin({ runner: { socket: runner.socket } })
//   ... requests ...; runner.calls[0].headers; runner.fail('close')
//   await ext.close(); await runner.close()
export { fakeRunner } from './fake-runner.js'
export type { FakeRunner, FakeRunnerOptions } from './fake-runner.js'
export type { Fault, FaultKind, FaultOptions, FaultTarget } from './faults.js'
export type {
  CallRecord,
  ConfEntry,
  Entry,
  PrepareRecord,
  Question,
  RequestCallRecord,
  RequestReply,
  ResponseCallRecord,
  ResponseReply,
  RpcErrorRecord,
} from './records.js'
export { definePlugin } from '../runner-server/types.js'
export type { RunnerPlugin, RunnerRequest, RunnerResponse, StopResponse } from '../runner-server/types.js'
