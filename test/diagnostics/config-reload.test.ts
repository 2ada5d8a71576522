// apisix-ext-plugin:config-reload from the gateway's reload paths: update(), reload() of a
// file, and the file watcher; ok and refused, with the routes served afterwards.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CONFIG_RELOAD_CHANNEL, type ConfigReloadContext } from '../../src/diagnostics/index.js'
import { createExtPlugin } from '../../src/ext-plugin.js'
import { until } from '../runner-server/fixtures/gateway.js'

t.setTimeout(30_000)

const route = (id: string) => ({ id, uri: `/${id}`, upstream: { nodes: { '127.0.0.1:1': 1 } } })
const yaml = (ids: string[]): string =>
  `routes:\n${ids.map((id) => `  - id: ${id}\n    uri: /${id}\n    upstream:\n      nodes:\n        "127.0.0.1:1": 1\n`).join('')}#END\n`

function record(t: Test): ConfigReloadContext[] {
  const seen: ConfigReloadContext[] = []
  const on = (message: unknown): void => void seen.push(message as ConfigReloadContext)
  subscribe(CONFIG_RELOAD_CHANNEL, on)
  t.teardown(() => unsubscribe(CONFIG_RELOAD_CHANNEL, on))
  return seen
}

t.test('update(): ok, then refused (the running configuration stays)', async (t) => {
  const seen = record(t)
  const ext = createExtPlugin()
  const gw = ext.gateway({ routes: [route('a')] })
  t.teardown(async () => {
    await gw.close()
    await ext.close()
  })
  gw.update({ routes: [route('a'), route('b')] })
  t.throws(() => gw.update({ routes: [{ id: 'c' }] }))
  t.equal(seen.length, 2)
  t.same(seen[0], { source: 'update', ok: true, error: undefined, routes: 2 })
  t.match(seen[1], { source: 'update', ok: false, routes: 2 })
  t.match(seen[1]!.error, { code: 'EXT_ERR_INVALID_CONFIG' })
})

t.test('a file: reload() and the watcher', async (t) => {
  const seen = record(t)
  const dir = mkdtempSync(join(tmpdir(), 'ext-reload-'))
  const file = join(dir, 'apisix.yaml')
  writeFileSync(file, yaml(['a']))
  const ext = createExtPlugin()
  const gw = ext.gateway(file, { watch: true, debounce: 20 })
  t.teardown(async () => {
    await gw.close()
    await ext.close()
    rmSync(dir, { recursive: true, force: true })
  })
  writeFileSync(file, yaml(['a', 'b', 'c']))
  t.ok(await until(() => seen.length === 1, 5000), 'the watcher published')
  t.same(seen[0], { source: 'file', ok: true, error: undefined, routes: 3 })
  writeFileSync(file, 'routes: [\n#END\n')
  t.ok(await until(() => seen.length === 2, 5000))
  t.match(seen[1], { source: 'file', ok: false, routes: 3 })
  t.ok(seen[1]!.error instanceof Error)
  await t.rejects(gw.reload())
  t.match(seen[2], { source: 'reload', ok: false, routes: 3 })
  writeFileSync(file, yaml(['z']))
  await gw.reload()
  t.match(seen.find((c) => c.source === 'reload' && c.ok), { routes: 1, error: undefined })
})
