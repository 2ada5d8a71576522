// The README's "Testing your app" example is examples/testing/app.test.ts, quoted whole:
// the block must equal the file, and the file must pass under node:test.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

t.setTimeout(60_000)
const root = fileURLToPath(new URL('../../', import.meta.url))
const example = 'examples/testing/app.test.ts'

t.test('the README quotes the example file exactly', async (t) => {
  const readme = readFileSync(`${root}README.md`, 'utf8')
  const section = readme.split(/^## /m).find((s) => s.startsWith('Testing your app'))
  t.ok(section, 'README has a "Testing your app" section')
  const block = /```ts\n(\/\/ test\/orders\.test\.ts[\s\S]*?)```/.exec(section ?? '')?.[1]
  t.equal(block, readFileSync(`${root}${example}`, 'utf8'), `the block is ${example}`)
})

t.test('the example passes with node --test (package names resolved to the source by tsx and tsconfig paths)', async (t) => {
  let stdout = ''
  let code = 0
  try {
    stdout = (await promisify(execFile)(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', example], { cwd: root, encoding: 'utf8' })).stdout
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number }
    stdout = `${e.stdout ?? ''}${e.stderr ?? ''}`
    code = e.code ?? 1
  }
  t.equal(code, 0, stdout)
  t.match(stdout, /^# pass 3$/m, 'its three tests pass')
  t.match(stdout, /^# fail 0$/m)
})
