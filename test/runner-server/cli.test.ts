// The bin's module handling, in-process: which export shapes count as plugins, and how a
// module name is resolved.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { CliError, pluginsFromModule, resolvePluginsModule } from '../../src/runner-server/cli.js'
import { tempDir } from './fixtures/gateway.js'

const a = { name: 'a' }
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
