// The bin's module handling, in-process: which export shapes count as plugins, and how a
// module name is resolved.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { CliError, USAGE, parseCliArgs, pluginsFromModule, resolvePluginsModule, resolveTypeScriptLoader, runCli } from '../../src/runner-server/cli.js'
import { tempDir } from './fixtures/gateway.js'

const a = { name: 'a' }
const fixtureModule = 'plugins.mjs'
const b = { name: 'b', requestFilter() {} }

t.test('export shapes', async (t) => {
  const shapes: Array<[string, unknown, unknown]> = [
    ['ESM default array', { default: [a, b] }, [a, b]],
    ['ESM named plugins array', { plugins: [a], default: [b] }, [a]],
    ['ESM default object', { default: { a, b } }, { a, b }],
    ['CJS module.exports = [..]', { default: [a] }, [a]],
    ['CJS module.exports = { plugins }', { default: { plugins: [b] } }, [b]],
    ['compiled ESM-in-CJS exports.default', { default: { __esModule: true, default: [a, b] } }, [a, b]],
  ]
  for (const [name, namespace, plugins] of shapes) t.same(pluginsFromModule(namespace, 'm'), plugins, name)

  for (const [name, namespace] of [
    ['nothing', {}],
    ['an empty array', { default: [] }],
    ['one plugin alone', { default: a }],
    ['an array with a non-plugin', { default: [a, 3] }],
  ] as const) {
    t.throws(() => pluginsFromModule(namespace, 'm.js'), { constructor: CliError, exitCode: 1, message: /^m\.js exports no plugins/ }, name)
  }
})

t.test('module resolution', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'plugins.js'), '')
  t.equal(resolvePluginsModule('./plugins.js', dir), pathToFileURL(join(dir, 'plugins.js')).href)
  t.equal(resolvePluginsModule('plugins.js', dir), pathToFileURL(join(dir, 'plugins.js')).href, 'an existing file without ./')
  t.equal(resolvePluginsModule(join(dir, 'x.mjs'), '/'), pathToFileURL(join(dir, 'x.mjs')).href, 'absolute path')
  t.equal(resolvePluginsModule('file:///x.js', dir), 'file:///x.js')
  t.match(resolvePluginsModule('tap', process.cwd()), /^file:.*node_modules\/tap\//, 'a package, from the working directory')
  t.equal(resolvePluginsModule('not-here', dir, (s) => `file:///fallback/${s}`), 'file:///fallback/not-here')
  t.throws(() => resolvePluginsModule('not-here', dir), { constructor: CliError, message: /cannot find the plugins module not-here from / })
})

t.test('command line: parseArgs options, --help and --version', async (t) => {
  const m = fixtureModule
  t.same(parseCliArgs([m]), { level: undefined, strict: false, module: m })
  t.same(parseCliArgs(['--strict', '--log-level', 'debug', m]), { level: 'debug', strict: true, module: m })
  t.same(parseCliArgs([m, '--log-level=warn']), { level: 'warn', strict: false, module: m }, 'options after the module')
  t.throws(() => parseCliArgs(['--help']), { constructor: CliError, exitCode: 0, message: USAGE })
  t.throws(() => parseCliArgs(['-h', m]), { exitCode: 0, message: USAGE })
  t.throws(() => parseCliArgs(['--version'], '1.2.3'), { exitCode: 0, message: '1.2.3' })
  t.throws(() => parseCliArgs(['-v'], '1.2.3'), { exitCode: 0, message: '1.2.3' })
  t.throws(() => parseCliArgs(['--bogus', m]), { exitCode: 2, message: /^unknown option --bogus\nusage:/ })
  t.throws(() => parseCliArgs(['--strict=yes', m]), { exitCode: 2, message: /--strict/ })
  t.throws(() => parseCliArgs(['--log-level']), { exitCode: 2, message: /--log-level/ })
  t.throws(() => parseCliArgs([m, m]), { exitCode: 2, message: /^expected one plugins module, got 2/ })
  t.match(USAGE, /--strict/)
  t.match(USAGE, /--version/)
})

t.test('a .ts module Node cannot load, and no tsx to be found: the error says what to do', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'plugins.ts'), 'export default [{ name: "a" as string }]')
  const imported: string[] = []
  const host = {
    cwd: dir,
    write: () => {},
    importModule: async (url: string) => {
      imported.push(url)
      throw Object.assign(new TypeError(`Unknown file extension ".ts" for ${url}`), { code: 'ERR_UNKNOWN_FILE_EXTENSION' })
    },
  }
  await t.rejects(runCli(['plugins.ts'], host), {
    constructor: CliError,
    exitCode: 1,
    message: /a TypeScript module needs a loader, and tsx was not found .*npm install tsx.*compile the module to JavaScript/,
  })
  t.equal(imported.length, 1, 'no loader was imported')
  t.equal(resolveTypeScriptLoader(pathToFileURL(join(dir, 'plugins.ts')).href, dir), undefined)
  t.match(resolveTypeScriptLoader(pathToFileURL(join(dir, 'plugins.ts')).href, process.cwd()), /node_modules\/tsx\//, 'found from the working directory')

  // A .js module that fails to load is reported as it is, with no loader involved.
  await t.rejects(runCli([join(dir, 'x.js')], host), { message: /cannot load the plugins module .*x\.js: Unknown file extension/ })
})

t.test('a .ts module with tsx found: tsx is imported (it registers itself), then the module again', async (t) => {
  const dir = tempDir(t)
  const imported: string[] = []
  let registered = 0
  const host = {
    cwd: dir,
    write: () => {},
    resolveFallback: (spec: string) => `file:///loader/${spec}`,
    importModule: async (url: string) => {
      imported.push(url)
      if (url === 'file:///loader/tsx') {
        registered++ // importing tsx registers its hooks
        return {}
      }
      if (registered === 0) throw Object.assign(new TypeError('Unknown file extension ".ts"'), { code: 'ERR_UNKNOWN_FILE_EXTENSION' })
      return { default: [{ name: 'a' }] }
    },
  }
  // No APISIX_LISTEN_ADDRESS: the runner is created, then refuses to listen. Enough to see
  // that the module was loaded (a module without plugins would fail earlier, differently).
  const saved = process.env.APISIX_LISTEN_ADDRESS
  delete process.env.APISIX_LISTEN_ADDRESS
  t.teardown(() => void (saved === undefined ? undefined : (process.env.APISIX_LISTEN_ADDRESS = saved)))
  await t.rejects(runCli(['./p.mts'], host), { message: /APISIX_LISTEN_ADDRESS is not set/ })
  t.equal(registered, 1)
  t.same(imported, [pathToFileURL(join(dir, 'p.mts')).href, 'file:///loader/tsx', `${pathToFileURL(join(dir, 'p.mts')).href}?loader=tsx`])
})
