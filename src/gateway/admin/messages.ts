// A candidate configuration's ConfigError in the words APISIX's Admin API uses for the same
// fault (apisix-config.md §8): the validator's location prefix (`routes[3] (id 1): `) dropped
// when it is the object being written, schema faults under `invalid configuration: `,
// reference faults as `failed to fetch upstream info by upstream id [9], response code: 404`.
import { ConfigError } from '../../errors.js'
import type { Kind } from '../store/types.js'

const LOCATION = /^([a-z_]+)\[(\d+)\][^:]*: /
const SCHEMA = /^(property "|additional properties|value should|wrong type|expect |string too|failed to match|expected |failed to validate item)/

/** The object a write is about: its kind and its position in the candidate. */
export interface Written {
  readonly kind: Kind
  readonly index: number
}

export function adminMessage(err: unknown, written: Written | undefined): string {
  if (!(err instanceof ConfigError)) return err instanceof Error ? err.message : String(err)
  let message = err.message
  const location = LOCATION.exec(message)
  if (location !== null && written !== undefined && location[1] === written.kind && Number(location[2]) === written.index) {
    message = message.slice(location[0].length)
  }
  const reference = /unknown \w+ "[^"]*": (failed to fetch .+ info by .+ id \[[^\]]*\])/.exec(message)
  if (reference !== null) return `${reference[1]}, response code: 404`
  if (message.startsWith('failed to check the configuration of plugin')) {
    return written?.kind === 'consumers' ? `invalid plugins configuration: ${message}` : message
  }
  const unknownPlugin = /^(unknown plugins? \[.*\])(?: \(neither.*\))?$/.exec(message)
  if (unknownPlugin !== null) return unknownPlugin[1]!
  if (SCHEMA.test(message)) return `invalid configuration: ${message}`
  return message
}
