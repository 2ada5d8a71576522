// Regenerates src/protocol/gen from fbs/ext-plugin.fbs with flatc (2.0.x, as used by
// ext-plugin-proto). flatc 2.0 writes extension-less relative imports, which Node's ESM
// resolver rejects, so each relative import gets its `.js` suffix afterwards.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const out = 'src/protocol/gen'
rmSync(out, { recursive: true, force: true })
execFileSync('flatc', ['--ts', '-o', out, 'fbs/ext-plugin.fbs'], { stdio: 'inherit' })

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else if (path.endsWith('.ts')) yield path
  }
}

for (const file of files(out)) {
  const text = readFileSync(file, 'utf8')
  writeFileSync(file, text.replace(/(from '\.{1,2}\/[^']+?)(?<!\.js)'/g, "$1.js'"))
}
