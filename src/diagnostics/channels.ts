// The channel objects, created once at load. Publishers test `hasSubscribers` before they
// build a context, so a process nobody observes pays one property read per event.
import { channel as namedChannel, tracingChannel } from 'node:diagnostics_channel'
import type {
  ConfigReloadContext,
  DegradationContext,
  PrepareConfContext,
  RunnerCallContext,
  RunnerExitContext,
  RunnerRespawnContext,
  RunnerSpawnContext,
} from './contexts.js'
import {
  CONFIG_RELOAD_CHANNEL,
  DEGRADATION_CHANNEL,
  PREPARE_CONF_CHANNEL,
  RUNNER_CALL_CHANNEL,
  RUNNER_EXIT_CHANNEL,
  RUNNER_RESPAWN_CHANNEL,
  RUNNER_SPAWN_CHANNEL,
} from './names.js'

/** A plain channel whose messages are `T`. */
export interface TypedChannel<T> {
  readonly name: string
  readonly hasSubscribers: boolean
  publish(message: T): void
}

function channel<T>(name: string): TypedChannel<T> {
  return namedChannel(name) as unknown as TypedChannel<T>
}

export const runnerCallChannel = tracingChannel<RunnerCallContext>(RUNNER_CALL_CHANNEL)
const { start, end, asyncStart, asyncEnd, error } = runnerCallChannel

/**
 * Whether a runner call must be traced: `runnerCallChannel.hasSubscribers`, read from the
 * five channels here. Node's own getter is shared by every tracing channel of the process
 * and, once subscribers have come and gone a few dozen times, costs ~160 ns instead of a
 * few (bench/diagnostics.ts); this function keeps its own inline caches.
 */
export function runnerCallTraced(): boolean {
  return start.hasSubscribers || end.hasSubscribers || asyncStart.hasSubscribers || asyncEnd.hasSubscribers || error.hasSubscribers
}
export const prepareConfChannel = channel<PrepareConfContext>(PREPARE_CONF_CHANNEL)
export const runnerSpawnChannel = channel<RunnerSpawnContext>(RUNNER_SPAWN_CHANNEL)
export const runnerExitChannel = channel<RunnerExitContext>(RUNNER_EXIT_CHANNEL)
export const runnerRespawnChannel = channel<RunnerRespawnContext>(RUNNER_RESPAWN_CHANNEL)
export const degradationChannel = channel<DegradationContext>(DEGRADATION_CHANNEL)
export const configReloadChannel = channel<ConfigReloadContext>(CONFIG_RELOAD_CHANNEL)
