// One packed tarball shared by the consumer test files: `npm pack` (which builds) is the slow
// part, so it runs once per tree. The cache is keyed by a hash of everything that goes into
// the package; a mkdir lock keeps two test files from packing (and building) at once.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../../', import.meta.url))
export const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function hashTree(hash: ReturnType<typeof createHash>, dir: string): void {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) hashTree(hash, path)
    else hash.update(path).update(readFileSync(path))
  }
}

function treeKey(): string {
  const hash = createHash('sha256')
  for (const part of ['src', 'adapters', 'bin', 'fbs', 'scripts']) if (existsSync(join(root, part))) hashTree(hash, join(root, part))
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.cjs.json']) if (existsSync(join(root, file))) hash.update(readFileSync(join(root, file)))
  return hash.digest('hex').slice(0, 16)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The path of a tarball packed from the current tree, packing it if no file has yet. */
export async function packedTarball(): Promise<string> {
  const cache = join(tmpdir(), `ext-plugin-pack-${treeKey()}.tgz`)
  const lock = `${cache}.lock`
  for (;;) {
    if (existsSync(cache)) return cache
    try {
      mkdirSync(lock)
      break
    } catch {
      // Another file is packing; a lock older than 5 minutes belongs to a dead process.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true })
      } catch {}
      await sleep(500)
    }
  }
  try {
    if (existsSync(cache)) return cache
    const dest = mkdtempSync(join(tmpdir(), 'ext-plugin-pack-'))
    const out = execFileSync(npm, ['pack', '--silent', '--pack-destination', dest], { cwd: root, encoding: 'utf8' })
    renameSync(join(dest, out.trim().split('\n').pop()!), cache)
    rmSync(dest, { recursive: true, force: true })
    return cache
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/** A tiny project in `work` with the tarball installed. */
export function project(work: string, name: string, type: 'module' | 'commonjs', tarball: string): string {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type }))
  execFileSync(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball], { cwd: dir, stdio: 'pipe' })
  return dir
}

/** A scratch directory removed when the test file ends. */
export function workDir(t: { teardown(fn: () => void): void }): string {
  const work = mkdtempSync(join(tmpdir(), 'ext-plugin-consumers-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  return work
}
