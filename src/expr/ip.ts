// IP address parsing and CIDR membership for the `ipmatch` operator, with the semantics of
// lua-resty-ipmatcher 0.6.1 (which lua-resty-expr 1.3.2 uses):
//
// - Addresses are parsed as glibc's inet_pton does: IPv4 is exactly four decimal octets
//   without leading zeros; IPv6 is the RFC 4291 text form, `::` at most once, an optional
//   dotted IPv4 tail, no zone id. An IPv6 literal may be wrapped in `[` `]`.
// - The two families never mix. In particular an IPv4-mapped IPv6 address such as
//   `::ffff:10.0.0.1` is an IPv6 address: it matches `::ffff:0:0/96` or
//   `::ffff:10.0.0.0/104`, never `10.0.0.0/8`; and `10.0.0.1` never matches an IPv6 rule.
//   This is what ipmatcher does (it asks inet_pton for AF_INET first, then AF_INET6).
// - `/0` matches every address of its family; host bits set in a rule are ignored.
//
// node:net's BlockList is not used: it lets IPv4 and IPv4-mapped IPv6 match each other.

import { luaToNumber } from './lua.js'

/** A compiled set of networks: true when `ip` (text) is inside one of them. */
export type IpMatcher = (ip: string) => boolean

const COLON = 0x3a
const DOT = 0x2e

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}

/** inet_pton(AF_INET) on s[start, end): the address as an unsigned 32-bit number. */
function parseIPv4Range(s: string, start: number, end: number): number | undefined {
  let value = 0
  let octet = 0
  let octets = 0
  let sawDigit = false
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x30 && c <= 0x39) {
      if (sawDigit && octet === 0) return undefined // leading zero
      octet = octet * 10 + (c - 0x30)
      if (octet > 255) return undefined
      if (!sawDigit) {
        if (++octets > 4) return undefined
        sawDigit = true
      }
    } else if (c === DOT && sawDigit) {
      if (octets === 4) return undefined
      value = value * 256 + octet
      octet = 0
      sawDigit = false
    } else {
      return undefined
    }
  }
  if (octets < 4 || !sawDigit) return undefined
  return value * 256 + octet
}

/** The IPv4 address in `s` as an unsigned 32-bit number, or undefined. */
export function parseIPv4(s: string): number | undefined {
  return parseIPv4Range(s, 0, s.length)
}

/**
 * inet_pton(AF_INET6) on `s`, brackets stripped first as ipmatcher does; writes the eight
 * 16-bit groups into `out` and returns true, or returns false.
 */
export function parseIPv6(s: string, out: Uint16Array): boolean {
  let start = 0
  let end = s.length
  if (end >= 2 && s.charCodeAt(0) === 0x5b && s.charCodeAt(end - 1) === 0x5d) {
    start = 1
    end -= 1
  }
  if (start === end) return false
  let i = start
  if (s.charCodeAt(i) === COLON) {
    i++
    if (i === end || s.charCodeAt(i) !== COLON) return false
  }
  let groups = 0
  let gap = -1
  let tokenStart = i
  let digits = 0
  let value = 0
  while (i < end) {
    const c = s.charCodeAt(i++)
    const d = hexDigit(c)
    if (d >= 0) {
      if (digits === 4) return false
      value = (value << 4) | d
      digits++
      continue
    }
    if (c === COLON) {
      tokenStart = i
      if (digits === 0) {
        if (gap >= 0) return false
        gap = groups
        continue
      }
      if (i === end || groups === 8) return false
      out[groups++] = value
      digits = 0
      value = 0
      continue
    }
    if (c === DOT && groups + 2 <= 8) {
      const v4 = parseIPv4Range(s, tokenStart, end)
      if (v4 === undefined) return false
      out[groups++] = v4 >>> 16
      out[groups++] = v4 & 0xffff
      digits = 0
      break
    }
    return false
  }
  if (digits > 0) {
    if (groups === 8) return false
    out[groups++] = value
  }
  if (gap >= 0) {
    // `::` must stand for at least one group.
    if (groups === 8) return false
    const tail = groups - gap
    for (let k = 0; k < tail; k++) out[7 - k] = out[groups - 1 - k] ?? 0
    for (let k = gap; k < 8 - tail; k++) out[k] = 0
    groups = 8
  }
  return groups === 8
}

function v4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}

function v6GroupMask(prefix: number, group: number): number {
  const bits = Math.min(16, Math.max(0, prefix - 16 * group))
  return bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff
}

/** A prefix length as ipmatcher reads it (Lua tonumber), when it is a whole number in range. */
function parsePrefix(text: string | undefined, max: number): number | undefined {
  if (text === undefined) return max
  const n = luaToNumber(text)
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= max ? n : undefined
}

interface V6Network {
  readonly groups: Uint16Array
  readonly prefix: number
}

// Reused by every match: matching is synchronous, and this keeps evaluation allocation-free.
const scratch = new Uint16Array(8)

/**
 * Compiles a list of addresses and CIDRs. `fail(message, index)` is called for the first
 * bad entry, with ipmatcher's message (`invalid ip address: <address part>`).
 */
export function compileIpMatcher(
  entries: readonly string[],
  fail: (message: string, index: number) => never,
): IpMatcher {
  const v4Nets: number[] = []
  const v4Masks: number[] = []
  const v6Nets: V6Network[] = []
  let allV4 = false
  let allV6 = false

  entries.forEach((entry, index) => {
    const slash = entry.indexOf('/')
    const address = slash < 0 ? entry : entry.slice(0, slash)
    const prefixText = slash < 0 ? undefined : entry.slice(slash + 1)

    const v4 = parseIPv4(address)
    if (v4 !== undefined) {
      const prefix = parsePrefix(prefixText, 32)
      if (prefix === undefined) fail(`invalid ip address: ${entry}`, index)
      if (prefix === 0) allV4 = true
      const mask = v4Mask(prefix)
      v4Nets.push((v4 & mask) >>> 0)
      v4Masks.push(mask)
      return
    }
    const groups = new Uint16Array(8)
    if (parseIPv6(address, groups)) {
      const prefix = parsePrefix(prefixText, 128)
      if (prefix === undefined) fail(`invalid ip address: ${entry}`, index)
      if (prefix === 0) allV6 = true
      for (let g = 0; g < 8; g++) groups[g] = (groups[g] ?? 0) & v6GroupMask(prefix, g)
      v6Nets.push({ groups, prefix })
      return
    }
    fail(`invalid ip address: ${address}`, index)
  })

  const v6Masks = v6Nets.map(({ prefix }) => Uint16Array.from({ length: 8 }, (_, g) => v6GroupMask(prefix, g)))

  return (ip) => {
    const v4 = parseIPv4(ip)
    if (v4 !== undefined) {
      if (allV4) return true
      for (let i = 0; i < v4Nets.length; i++) {
        if (((v4 & (v4Masks[i] as number)) >>> 0) === v4Nets[i]) return true
      }
      return false
    }
    if (!parseIPv6(ip, scratch)) return false
    if (allV6) return true
    for (let i = 0; i < v6Nets.length; i++) {
      const net = (v6Nets[i] as V6Network).groups
      const mask = v6Masks[i] as Uint16Array
      let g = 0
      while (g < 8 && ((scratch[g] as number) & (mask[g] as number)) === net[g]) g++
      if (g === 8) return true
    }
    return false
  }
}
