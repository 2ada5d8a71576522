// Faults a test asks for: what the fake runner does instead of answering, on which frames,
// how many times. Armed faults are used in the order they were asked for.
import { ErrorCode, ExtPluginError } from '../errors.js'

/**
 * - `close`: the runner closes the connection without answering.
 * - `stall`: the runner never answers (the call ends at the client's `callTimeout`).
 * - `garbage`: the runner answers a frame of the right type that is not a FlatBuffer.
 * - `rpc-error`: the runner answers RPC_ERROR, SERVICE_UNAVAILABLE.
 * - `token-not-found`: the runner answers RPC_ERROR, CONF_TOKEN_NOT_FOUND to a call (the
 *   client prepares the conf again and retries, 3 attempts in all).
 */
export type FaultKind = 'close' | 'stall' | 'garbage' | 'rpc-error' | 'token-not-found'
export const FAULT_KINDS: readonly FaultKind[] = ['close', 'stall', 'garbage', 'rpc-error', 'token-not-found']

/**
 * Which frames a fault replaces the answer to: `call` (the default) is the next HTTPReqCall
 * or HTTPRespCall, `request` only HTTPReqCall (ext-plugin-pre-req, ext-plugin-post-req),
 * `response` only HTTPRespCall (ext-plugin-post-resp), `prepare` a PrepareConf.
 */
export type FaultTarget = 'call' | 'request' | 'response' | 'prepare'
const TARGETS: readonly FaultTarget[] = ['call', 'request', 'response', 'prepare']

export interface FaultOptions {
  /** Default `call`. */
  readonly on?: FaultTarget
  /** How many frames it hits: a count (default 1), or `always`, until cleared. */
  readonly times?: number | 'always'
}

/** An armed fault. */
export interface Fault {
  readonly kind: FaultKind
  readonly on: FaultTarget
  /** Frames it replaced the answer to so far. */
  readonly hits: number
  /** Frames it will still hit (Infinity for `always`); 0 once used up or cleared. */
  readonly remaining: number
  /** Disarms it; frames from now on are answered normally. */
  clear(): void
}

/** The kind of frame a fault is checked against. */
export type FrameTarget = 'request' | 'response' | 'prepare'

class ArmedFault implements Fault {
  readonly kind: FaultKind
  readonly on: FaultTarget
  hits = 0
  remaining: number

  constructor(kind: FaultKind, on: FaultTarget, times: number) {
    this.kind = kind
    this.on = on
    this.remaining = times
  }

  matches(target: FrameTarget): boolean {
    return this.remaining > 0 && (this.on === target || (this.on === 'call' && target !== 'prepare'))
  }

  clear(): void {
    this.remaining = 0
  }
}

export class FaultQueue {
  #armed: ArmedFault[] = []

  arm(kind: FaultKind, options: FaultOptions = {}): Fault {
    if (!FAULT_KINDS.includes(kind)) throw invalid(`unknown fault ${JSON.stringify(kind)}: one of ${FAULT_KINDS.join(', ')}`)
    const on = options.on ?? 'call'
    if (!TARGETS.includes(on)) throw invalid(`unknown fault target ${JSON.stringify(on)}: one of ${TARGETS.join(', ')}`)
    if (kind === 'token-not-found' && on === 'prepare') throw invalid('token-not-found answers a call; a PrepareConf has no token to miss')
    const times = options.times ?? 1
    if (times !== 'always' && !(Number.isSafeInteger(times) && times > 0)) throw invalid(`times must be a positive integer or 'always', got ${String(times)}`)
    const fault = new ArmedFault(kind, on, times === 'always' ? Infinity : times)
    this.#armed.push(fault)
    return fault
  }

  /** The fault to inject for this frame, used once; undefined to answer normally. */
  take(target: FrameTarget): FaultKind | undefined {
    this.#armed = this.#armed.filter((f) => f.remaining > 0)
    const fault = this.#armed.find((f) => f.matches(target))
    if (fault === undefined) return undefined
    fault.hits++
    fault.remaining--
    return fault.kind
  }

  clear(): void {
    for (const fault of this.#armed) fault.clear()
    this.#armed = []
  }
}

function invalid(message: string): ExtPluginError {
  return new ExtPluginError(ErrorCode.INVALID_OPTIONS, `fakeRunner: ${message}`)
}
