// Who owns a shared runner: one lock file per owner generation, `owner.<n>`, in the shared
// directory. The owner is whoever holds the highest generation while alive.
//
// Why two processes can never both own it:
// - A generation file is created by link(2) from a complete temporary file, which fails with
//   EEXIST when the name exists: each generation has exactly one creator, and nobody ever
//   reads a half-written claim.
// - A process creates generation n+1 only after reading n's holder and finding it dead (its
//   pid gone, a zombie, or a pid reused by a process that started at another time: the
//   start time from /proc is part of the claim). A live owner is never superseded.
// - After its link succeeds, a claimant owns only if no higher generation exists; one that
//   finds a higher one (it read an old listing, and the older files had been cleaned up)
//   removes its claim and starts over.
// Nothing is ever unlinked to take a lock over (an unlink-then-create scheme lets two
// processes each remove the other's fresh lock); dead generations are removed only by the
// owner that superseded them, and a clean close removes the owner's own file.
import { randomBytes } from 'node:crypto'
import { linkSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface OwnerRecord {
  readonly pid: number
  /** The process's start time (clock ticks since boot, /proc/<pid>/stat); undefined where there is no /proc. */
  readonly start: string | undefined
  readonly generation: number
}

export type Claim = { readonly owner: true; readonly generation: number } | { readonly owner: false; readonly holder: OwnerRecord }

const PREFIX = 'owner.'
/** Claims raced away in a row before giving up: only a directory being tampered with gets here. */
const MAX_ATTEMPTS = 1000

/** Field 22 of /proc/<pid>/stat, and whether the process is a zombie; undefined without /proc. */
function procStat(pid: number): { start: string; zombie: boolean } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: split after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { start: fields[19]!, zombie: fields[0] === 'Z' || fields[0] === 'X' }
  } catch {
    return undefined
  }
}

/** This or another process's start time, to tell it from a later process given the same pid. */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start
}

/** True when the process that wrote `record` still runs. */
export function isAlive(record: { readonly pid: number; readonly start?: string | undefined }): boolean {
  try {
    process.kill(record.pid, 0)
  } catch (err) {
    // EPERM: it exists, under another user (cannot be ours in a 0700 directory, but alive)
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const stat = procStat(record.pid)
  if (stat === undefined) return !existsProc() // no /proc at all: the kill(0) answer is all we have
  if (stat.zombie) return false
  return record.start === undefined || record.start === stat.start
}

let hasProc: boolean | undefined
function existsProc(): boolean {
  hasProc ??= procStat(process.pid) !== undefined
  return hasProc
}

function generations(dir: string): number[] {
  const found: number[] = []
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(PREFIX)) continue
    const n = Number(name.slice(PREFIX.length))
    if (Number.isSafeInteger(n) && n > 0) found.push(n)
  }
  return found.sort((a, b) => b - a)
}

/** The holder of generation `n`; null when its file is gone, undefined when unreadable (a dead claim). */
function readHolder(dir: string, n: number): OwnerRecord | null | undefined {
  let text: string
  try {
    text = readFileSync(join(dir, PREFIX + n), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  try {
    const parsed = JSON.parse(text) as Partial<OwnerRecord>
    if (typeof parsed.pid !== 'number') return undefined
    return { pid: parsed.pid, start: typeof parsed.start === 'string' ? parsed.start : undefined, generation: n }
  } catch {
    return undefined
  }
}

/** Becomes the owner, or tells who is. Synchronous: nothing else of ours runs in between. */
export function claimOwnership(dir: string): Claim {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const top = generations(dir)[0]
    if (top !== undefined) {
      const holder = readHolder(dir, top)
      if (holder === null) continue // removed between the listing and the read
      if (holder !== undefined && isAlive(holder)) return { owner: false, holder }
    }
    const generation = (top ?? 0) + 1
    const record: OwnerRecord = { pid: process.pid, start: processStart(process.pid), generation }
    const temporary = join(dir, `claim.${process.pid}.${randomBytes(6).toString('hex')}`)
    writeFileSync(temporary, JSON.stringify(record), { mode: 0o600 })
    try {
      linkSync(temporary, join(dir, PREFIX + generation))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue // another claimant won it
      throw err
    } finally {
      rmSync(temporary, { force: true })
    }
    if (generations(dir)[0] !== generation) {
      rmSync(join(dir, PREFIX + generation), { force: true })
      continue
    }
    // Every lower generation was found dead (by us or by whoever superseded it).
    for (const older of generations(dir)) if (older < generation) rmSync(join(dir, PREFIX + older), { force: true })
    return { owner: true, generation }
  }
  throw new Error(`could not claim the shared runner in ${dir}: its owner files keep changing`)
}

/** True while `generation` is still the highest: nobody judged us dead. */
export function stillOwner(dir: string, generation: number): boolean {
  return generations(dir)[0] === generation
}

/** Gives ownership up (a clean close): the next claimant takes the next generation. */
export function releaseOwnership(dir: string, generation: number): void {
  const holder = readHolder(dir, generation)
  if (holder !== null && holder !== undefined && holder.pid === process.pid) rmSync(join(dir, PREFIX + generation), { force: true })
}
