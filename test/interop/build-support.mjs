// What the runner build scripts share: is a tool there, and is a build output up to date.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** True when `cmd args` runs and exits 0. */
export function works(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' })
  return !r.error && r.status === 0
}

/** A file's modification time in ms, or -1 when it does not exist. */
export function mtime(path) {
  try {
    return statSync(path).mtimeMs
  } catch {
    return -1
  }
}

/**
 * The newest mtime of the files under `dir` for which `include(name)` holds, skipping
 * directories for which `skipDir(name)` holds.
 */
export function newestFile(dir, include = () => true, skipDir = () => false) {
  let newest = 0
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, ent.name)
    if (ent.isDirectory()) {
      if (!skipDir(ent.name)) newest = Math.max(newest, newestFile(path, include, skipDir))
    } else if (include(ent.name)) {
      newest = Math.max(newest, mtime(path))
    }
  }
  return newest
}
