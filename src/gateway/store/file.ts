// Write-through of an in-memory store to the standalone file, so that an acknowledged Admin
// API write survives a restart. The file is replaced atomically (a temporary file in the same
// directory, flushed, then renamed over it): a reader, the gateway's own watcher included,
// sees the old file or the new one, never a half-written one.
import { open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { stringify } from 'yaml'
import type { RawConfig } from './types.js'

/** The standalone file's two formats (apisix-config.md §7.1): YAML ends with `#END`. */
export type FileFormat = 'yaml' | 'json'

/** The format a file is written back in: its own (JSON by extension or a leading `{`), else YAML. */
export function formatOf(file: string, text: string | undefined): FileFormat {
  return /\.json$/i.test(file) || (text !== undefined && /^\s*[[{]/.test(text)) ? 'json' : 'yaml'
}

/** The file's text for `raw`: empty sections left out, YAML with its end marker. */
export function renderConfig(raw: RawConfig, format: FileFormat): string {
  const sections = Object.fromEntries(Object.entries(raw).filter(([, list]) => Array.isArray(list) && list.length > 0))
  if (format === 'json') return JSON.stringify(sections, null, 2) + '\n'
  const body = Object.keys(sections).length === 0 ? '' : stringify(sections, { lineWidth: 0 })
  return `${body}#END\n`
}

let sequence = 0

/** Replaces `file` with `raw` rendered in `format`; resolves once the new content is on disk and in place. */
export async function writeConfigFile(file: string, raw: RawConfig, format: FileFormat): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${++sequence}.tmp`)
  // the new file keeps the old one's permissions (another process may read it)
  const mode = (await stat(file).catch(() => undefined))?.mode ?? 0o600
  const handle = await open(temp, 'w', mode & 0o777)
  try {
    await handle.writeFile(renderConfig(raw, format), 'utf8')
    // flushed before the rename, so a crash cannot leave the new name on empty content
    await handle.datasync()
  } catch (err) {
    await handle.close()
    await rm(temp, { force: true })
    throw err
  }
  await handle.close()
  try {
    await rename(temp, file)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}
