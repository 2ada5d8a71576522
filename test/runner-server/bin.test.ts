// The bin script as APISIX runs it: a separate process, configured by its environment,
// logging to stderr, stopped with SIGTERM (or SIGINT), which must exit 0 and remove the
// socket. Run on the TypeScript sources (APISIX_EXT_PLUGIN_RUNNER_SOURCE=1, tsx).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import * as P from '../../src/protocol/index.js'
import { RawClient, errCode, reqCallRequest, stopOf, tempDir, text } from './fixtures/gateway.js'

const bin = fileURLToPath(new URL('../../bin/apisix-ext-plugin-runner.mjs', import.meta.url))
const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))

interface Spawned {
  readonly child: ChildProcess
  readonly path: string
  readonly output: () => string
  readonly stdout: () => string
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function start(t: Test, args: string[], env: Record<string, string | undefined> = {}): Spawned {
  const path = join(tempDir(t), 'r.sock')
  const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], {
    env: { ...process.env, APISIX_EXT_PLUGIN_RUNNER_SOURCE: '1', APISIX_LISTEN_ADDRESS: `unix:${path}`, APISIX_CONF_EXPIRE_TIME: '3600', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let stdout = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, path, exit, output: () => stderr, stdout: () => stdout }
}

async function connected(runner: Spawned, ms = 15_000): Promise<RawClient> {
  const end = Date.now() + ms
  for (;;) {
    try {
      return await RawClient.connect(runner.path)
    } catch (err) {
      if (Date.now() > end || runner.child.exitCode !== null) throw new Error(`the runner did not listen: ${runner.output()}`, { cause: err })
      await sleep(20)
    }
  }
}

t.test('ESM module (default export array): serves, then SIGTERM exits 0 and removes the socket', async (t) => {
  const runner = start(t, [fixture('plugins.mjs')])
  const c = await connected(runner)
  const token = await c.prepare([['hello', '{"who":"apisix"}']])
  t.equal(text(stopOf(await c.reqCall(token, { path: '/p' })).body), 'hello apisix from /p')
  runner.child.kill('SIGTERM')
  t.same(await runner.exit, { code: 0, signal: null })
  t.notOk(existsSync(runner.path), 'socket removed')
  t.match(runner.output(), /INFO listening on unix:.*r\.sock \(conf expire time 3600 s; plugins: hello, slow, exit\)/)
  t.match(runner.output(), /INFO received SIGTERM, closing/)
  t.notMatch(runner.output(), /DEBUG/, 'info by default: no per-frame lines')
})

t.test('CommonJS module (`plugins` object): SIGINT exits 0 too', async (t) => {
  const runner = start(t, [fixture('plugins.cjs')])
  const c = await connected(runner)
  t.equal(text(stopOf(await c.reqCall(await c.prepare([['hello', '']]))).body), 'hello from cjs')
  runner.child.kill('SIGINT')
  t.same(await runner.exit, { code: 0, signal: null })
  t.notOk(existsSync(runner.path))
})

t.test('SIGTERM lets the call in progress reply first', async (t) => {
  const runner = start(t, [fixture('plugins.mjs')])
  const c = await connected(runner)
  const token = await c.prepare([['slow', '200']])
  c.send(P.encodeHTTPReqCallRequest(reqCallRequest(token)))
  await sleep(50)
  runner.child.kill('SIGTERM')
  t.equal(text(stopOf((await c.next())!).body), 'slept 200')
  t.same(await runner.exit, { code: 0, signal: null })
  t.notOk(existsSync(runner.path))
})

t.test('a plugin calling process.exit: the socket file is still removed', async (t) => {
  const runner = start(t, [fixture('plugins.mjs')])
  const c = await connected(runner)
  c.send(P.encodeHTTPReqCallRequest(reqCallRequest(await c.prepare([['exit', '7']]))))
  t.equal(await c.next(), null, 'the connection closes without a reply')
  t.same(await runner.exit, { code: 7, signal: null })
  t.notOk(existsSync(runner.path))
})

t.test('a bad APISIX_LISTEN_ADDRESS: exit 1 with a clear message', async (t) => {
  const runner = start(t, [fixture('plugins.mjs')], { APISIX_LISTEN_ADDRESS: '127.0.0.1:9999' })
  t.same(await runner.exit, { code: 1, signal: null })
  t.equal(
    runner.output(),
    'apisix-ext-plugin-runner: APISIX_LISTEN_ADDRESS must be a unix socket address such as unix:/tmp/runner.sock, got "127.0.0.1:9999"\n',
  )
})

t.test('usage errors and modules without plugins', async (t) => {
  const cases: Array<[string[], number, RegExp]> = [
    [[], 2, /expected one plugins module, got 0\nusage: apisix-ext-plugin-runner/],
    [['--bogus', fixture('plugins.mjs')], 2, /unknown option --bogus/],
    [['--log-level=loud', fixture('plugins.mjs')], 2, /unknown log level "loud"/],
    [[fixture('no-plugins.mjs')], 1, /no-plugins\.mjs exports no plugins: export them as the default export or as `plugins`/],
    [[fixture('missing.mjs')], 1, /cannot load the plugins module .*missing\.mjs/],
    [['no-such-package-here'], 1, /cannot find the plugins module no-such-package-here from/],
  ]
  for (const [args, code, message] of cases) {
    const runner = start(t, args)
    t.same(await runner.exit, { code, signal: null }, args.join(' ') || '(no arguments)')
    t.match(runner.output(), message)
  }
  const help = start(t, ['--help'])
  t.same(await help.exit, { code: 0, signal: null })
  t.match(help.stdout(), /^usage: apisix-ext-plugin-runner/)
})

t.test('compiled to JavaScript, on plain Node (no tsx), laid out as the package ships it', { timeout: 120_000 }, async (t) => {
  // Compile just the runner (and what it imports) the way the package build does, into a
  // private copy of the package layout: bin/ next to dist/esm/src/runner-server/.
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const pkg = tempDir(t)
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const sources = ['index.ts', 'cli.ts', 'demo/index.ts'].map((f) => join(root, 'src/runner-server', f))
  const compiled = spawnSync(
    process.execPath,
    [tsc, '--target', 'es2022', '--lib', 'es2023', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node',
      '--strict', '--skipLibCheck', '--rootDir', root, '--outDir', join(pkg, 'dist/esm'), ...sources],
    { encoding: 'utf8' },
  )
  t.equal(compiled.status, 0, `tsc: ${compiled.stdout}${compiled.stderr}`)
  mkdirSync(join(pkg, 'bin'))
  copyFileSync(bin, join(pkg, 'bin/apisix-ext-plugin-runner.mjs'))
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ type: 'module' }))
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'))

  const path = join(pkg, 'r.sock')
  const child = spawn(process.execPath, [join(pkg, 'bin/apisix-ext-plugin-runner.mjs'), join(pkg, 'dist/esm/src/runner-server/demo/index.js')], {
    env: { ...process.env, APISIX_EXT_PLUGIN_RUNNER_SOURCE: undefined, APISIX_LISTEN_ADDRESS: `unix:${path}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let output = ''
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => void child.kill('SIGKILL'))
  const c = await connected({ child, path, output: () => output } as unknown as Spawned)
  const token = await c.prepare([['echo', ''], ['auth', '{"keys":["k"]}']])
  t.equal(stopOf(await c.reqCall(token)).status, 200, 'the demo echo plugin answers')
  child.kill('SIGTERM')
  t.same(await exit, { code: 0, signal: null })
  t.notOk(existsSync(path), 'socket removed')
  t.match(output, /listening on unix:.* plugins: auth, rewrite-path, redact, echo/)

  // A .ts module on the same plain Node: the CLI finds tsx and registers it in-process.
  const tsPath = join(pkg, 'ts.sock')
  const tsChild = spawn(process.execPath, [join(pkg, 'bin/apisix-ext-plugin-runner.mjs'), fixture('plugins.ts')], {
    env: { ...process.env, APISIX_EXT_PLUGIN_RUNNER_SOURCE: undefined, APISIX_LISTEN_ADDRESS: `unix:${tsPath}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let tsOutput = ''
  tsChild.stderr!.on('data', (d: Buffer) => (tsOutput += d.toString()))
  const tsExit = new Promise((resolve) => tsChild.on('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => void tsChild.kill('SIGKILL'))
  const tc = await connected({ child: tsChild, path: tsPath, output: () => tsOutput } as unknown as Spawned)
  t.equal(text(stopOf(await tc.reqCall(await tc.prepare([['ts-hello', '']]))).body), 'hello from ts', 'the .ts plugins answer')
  tsChild.kill('SIGTERM')
  t.same(await tsExit, { code: 0, signal: null })
})

t.test('--log-level=debug logs every frame', async (t) => {
  const runner = start(t, ['--log-level=debug', fixture('plugins.mjs')])
  const c = await connected(runner)
  await c.prepare([['hello', '']])
  runner.child.kill('SIGTERM')
  await runner.exit
  t.match(runner.output(), /DEBUG receive rpc type: 1 data length: \d+/)
})

t.test('--version prints the package version', async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  for (const flag of ['--version', '-v']) {
    const runner = start(t, [flag])
    t.same(await runner.exit, { code: 0, signal: null })
    t.equal(runner.stdout(), `${version}\n`, flag)
  }
})

t.test('--strict: a conf naming an unknown plugin fails the PrepareConf', async (t) => {
  const runner = start(t, ['--strict', fixture('plugins.mjs')])
  const c = await connected(runner)
  t.equal(errCode(await c.call(P.encodePrepareConfRequest({ conf: [{ name: 'nope', value: '' }] }))), P.ErrCode.SERVICE_UNAVAILABLE)
  t.ok((await c.prepare([['hello', '']])) > 0, 'a good conf still prepares')
  runner.child.kill('SIGTERM')
  t.same(await runner.exit, { code: 0, signal: null })
  t.match(runner.output(), /ERROR .*strict: can't find plugin nope/)
})
