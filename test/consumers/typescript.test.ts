// The packed package installed into a TypeScript project (module nodenext, strict): every entry point's types check.
// The tarball is packed once per tree and shared with the other consumer files (tarball.ts).
import { execFileSync } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ts } from './program.js'
import { packedTarball, project, root, workDir } from './tarball.js'
import t from 'tap'

t.setTimeout(180_000)
const work = workDir(t)
const tarball = await packedTarball()

t.test('TypeScript consumer (module nodenext, strict): the types of every entry point check', async (t) => {
  const dir = project(work, 'ts-consumer', 'module', tarball)
  writeFileSync(join(dir, 'main.ts'), ts)
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules/@types')] }, files: ['main.ts'] }),
  )
  const tsc = join(root, 'node_modules/typescript/bin/tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' })
    t.pass('tsc found no error')
  } catch (err) {
    t.fail(`tsc: ${(err as { stdout?: string }).stdout ?? String(err)}`)
  }
  t.ok(readdirSync(join(dir, 'node_modules/apisix-ext-plugin/dist/esm/adapters')).includes('koa.d.ts'))
})
