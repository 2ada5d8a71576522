// The type tests: the fixtures beside this file compile with tsc --noEmit, where every
// wrong form carries a @ts-expect-error (so each one must be an error, or tsc fails on the
// unused directive) and every right form must compile.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

t.setTimeout(60_000)
const root = fileURLToPath(new URL('../../', import.meta.url))
const fixtures = new URL('./fixtures/', import.meta.url)
const tsc = fileURLToPath(new URL('node_modules/typescript/bin/tsc', `file://${root}`))

t.test('route configurations, filters and in-process plugins type-check as documented', async (t) => {
  let output = ''
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', 'test/types/tsconfig.json'], { cwd: root, encoding: 'utf8' })
  } catch (err) {
    output = (err as { stdout?: string }).stdout ?? String(err)
  }
  t.equal(output, '', 'tsc -p test/types/tsconfig.json reports nothing')
})

t.test('every fixture checks wrong forms', async (t) => {
  for (const name of readdirSync(fixtures).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(name, fixtures), 'utf8')
    const directives = text.split('\n').filter((line) => line.trim().startsWith('// @ts-expect-error -- '))
    t.ok(directives.length >= 5, `${name}: ${directives.length} wrong forms, each with its reason`)
    t.notOk(/@ts-ignore|as any\b/.test(text), `${name}: no @ts-ignore or any`)
  }
})
