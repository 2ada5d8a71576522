// The packed package installed into a CommonJS project: the bin's runner, the http adapter, one request.
// The tarball is packed once per tree and shared with the other consumer files (tarball.ts).
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cjs } from './program.js'
import { packedTarball, project, workDir } from './tarball.js'
import t from 'tap'

t.setTimeout(180_000)
const work = workDir(t)
const tarball = await packedTarball()

t.test('CommonJS consumer', async (t) => {
  const dir = project(work, 'cjs-consumer', 'commonjs', tarball)
  writeFileSync(join(dir, 'main.js'), cjs)
  const out = execFileSync(process.execPath, ['main.js'], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
  t.same(JSON.parse(out), { denied: 401, allowed: 'app', runner: 'function' })
})
