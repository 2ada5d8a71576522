// The directory a shared runner's processes meet in: one per user and runner command (and
// working directory, which a relative command depends on), under the temp directory.
// Private (0700) so no other user can connect to the runner or plant files in it; one that
// exists with other permissions or another owner is refused rather than used.
import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, ExtPluginError } from '../errors.js'

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0
}

/** `<tmpdir>/apisix-ext-plugin-<uid>-<hash of cwd and cmd>`, created if needed. */
export function sharedDirectory(cmd: readonly string[], cwd = process.cwd(), base = tmpdir()): string {
  const key = createHash('sha256').update(JSON.stringify([cwd, cmd])).digest('hex').slice(0, 16)
  const dir = join(base, `apisix-ext-plugin-${uid()}-${key}`)
  try {
    mkdirSync(dir, { mode: 0o700 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const stat = lstatSync(dir)
  if (!stat.isDirectory() || stat.uid !== uid() || (stat.mode & 0o777) !== 0o700) {
    throw new ExtPluginError(
      ErrorCode.INVALID_OPTIONS,
      `the shared runner directory ${dir} is not a private directory of this user (0700); remove it, or set TMPDIR elsewhere`,
    )
  }
  return dir
}
