// The published package as users get it: `npm pack`, installed into three tiny projects
// (ESM, CommonJS, TypeScript with module "nodenext"), each of which starts the packaged
// TypeScript runner through its bin and sends one request through the http adapter.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../../', import.meta.url))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const work = mkdtempSync(join(tmpdir(), 'ext-plugin-consumers-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))

// What every consumer does, in its module system: a runner from the package's own bin with
// the packaged demo plugins, a server through the http adapter, one request, a clean close.
const program = (imports: string) => `${imports}
const bin = join(dirname(require.resolve('apisix-ext-plugin/package.json')), 'bin', 'apisix-ext-plugin-runner.mjs')
const ext = createExtPlugin({ runner: { cmd: [process.execPath, bin, 'apisix-ext-plugin/runner/demo'] } })
await ext.ready()
const route = { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'auth', value: JSON.stringify({ keys: ['k'] }) }] } } }
const server = http.createServer(withExtPlugin(ext, route, (req, res) => res.end('app'))).listen(0)
await new Promise((resolve) => server.once('listening', resolve))
const url = 'http://127.0.0.1:' + server.address().port + '/'
const denied = await fetch(url)
const allowed = await fetch(url, { headers: { 'x-api-key': 'k' } })
console.log(JSON.stringify({ denied: denied.status, allowed: await allowed.text(), runner: typeof createRunner }))
server.close()
await ext.close()
`

const esm = program(`import http from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createExtPlugin } from 'apisix-ext-plugin'
import { withExtPlugin } from 'apisix-ext-plugin/http'
import { createRunner } from 'apisix-ext-plugin/runner'
const require = createRequire(import.meta.url)`)

const cjs = `(async () => {
${program(`const http = require('node:http')
const { dirname, join } = require('node:path')
const { createExtPlugin } = require('apisix-ext-plugin')
const { withExtPlugin } = require('apisix-ext-plugin/http')
const { createRunner } = require('apisix-ext-plugin/runner')`)}
})()`

const ts = `import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createExtPlugin, type ExtPlugin, type RouteConfig, ErrorCode } from 'apisix-ext-plugin'
import { extPlugin as expressExt } from 'apisix-ext-plugin/express'
import { extPlugin as koaExt } from 'apisix-ext-plugin/koa'
import { withExtPlugin } from 'apisix-ext-plugin/http'
import { createRunner, definePlugin } from 'apisix-ext-plugin/runner'

const route: RouteConfig = { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'hello', value: '{}' }] } } }
const hello = definePlugin({ name: 'hello', requestFilter: (_conf, _req, res) => void res.setStatus(200).write('hi') })
export function build(ext: ExtPlugin): unknown[] {
  const listener: (req: http.IncomingMessage, res: http.ServerResponse) => void = withExtPlugin(ext, route, (_req, res) => res.end())
  return [listener, expressExt(ext, route), koaExt(ext, route), createRunner({ plugins: [hello] }), ErrorCode.CLOSED, createExtPlugin, (null as unknown as AddressInfo)]
}
`

function pack(): string {
  const out = execFileSync(npm, ['pack', '--silent', '--pack-destination', work], { cwd: root, encoding: 'utf8' })
  return join(work, out.trim().split('\n').pop()!)
}

function project(name: string, type: 'module' | 'commonjs', tarball: string): string {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type }))
  execFileSync(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball], { cwd: dir, stdio: 'pipe' })
  return dir
}

const tarball = pack()

t.test('the tarball holds the build, the schema, the bin; not the sources or tests', async (t) => {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n')
  t.ok(listing.includes('package/dist/esm/src/index.js'))
  t.ok(listing.includes('package/dist/cjs/src/index.js'))
  t.ok(listing.includes('package/dist/esm/adapters/express.d.ts'))
  t.ok(listing.includes('package/bin/apisix-ext-plugin-runner.mjs'))
  t.ok(listing.includes('package/fbs/ext-plugin.fbs'))
  t.notOk(listing.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/')), 'no tests or TypeScript sources')
})

t.test('ESM consumer', async (t) => {
  const dir = project('esm-consumer', 'module', tarball)
  writeFileSync(join(dir, 'main.mjs'), esm)
  const out = execFileSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
  t.same(JSON.parse(out), { denied: 401, allowed: 'app', runner: 'function' })
})

t.test('CommonJS consumer', async (t) => {
  const dir = project('cjs-consumer', 'commonjs', tarball)
  writeFileSync(join(dir, 'main.js'), cjs)
  const out = execFileSync(process.execPath, ['main.js'], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
  t.same(JSON.parse(out), { denied: 401, allowed: 'app', runner: 'function' })
})

t.test('TypeScript consumer (module nodenext, strict): the types of every entry point check', async (t) => {
  const dir = project('ts-consumer', 'module', tarball)
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
