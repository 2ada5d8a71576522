// The seed commands verbatim: APISIX's ext-plugin-post-resp document enables the plugin on
// route 1 with a PUT, then removes it with a PUT without the plugin. Run here with real curl
// through a shell, unchanged but for host and port, against a real gateway with the TypeScript
// runner; the request after each shows the change.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { ADMIN_KEY, mount, upstreamServer, world, type Upstream, type World } from './setup.js'

t.setTimeout(60_000)

const run = promisify(execFile)

// From apache/apisix docs/en/latest/plugins/ext-plugin-post-resp.md, "Enable Plugin".
const ENABLE = `curl -i http://127.0.0.1:9180/apisix/admin/routes/1  -H "X-API-KEY: $admin_key" -X PUT -d '
{
    "uri": "/index.html",
    "plugins": {
        "ext-plugin-post-resp": {
            "conf" : [
                {"name": "ext-plugin-A", "value": "{\\"enable\\":\\"feature\\"}"}
            ]
        }
    },
    "upstream": {
        "type": "roundrobin",
        "nodes": {
            "127.0.0.1:1980": 1
        }
    }
}'`

// "Example usage"
const TRY = 'curl -i http://127.0.0.1:9080/index.html'

// "Delete Plugin"
const REMOVE = `curl http://127.0.0.1:9180/apisix/admin/routes/1  -H "X-API-KEY: $admin_key" -X PUT -d '
{
    "uri": "/index.html",
    "upstream": {
        "type": "roundrobin",
        "nodes": {
            "127.0.0.1:1980": 1
        }
    }
}'`

async function hasCurl(): Promise<boolean> {
  try {
    await run('curl', ['--version'])
    return true
  } catch {
    return false
  }
}

let w: World
let upstream: Upstream
t.before(async () => {
  w = await world()
  // the document's upstream port when it is free, else another one put in its place
  upstream = await upstreamServer('doc-upstream', 1980).catch(() => upstreamServer('doc-upstream'))
})
t.teardown(async () => {
  await upstream?.close()
  await w?.close()
})

t.test('the ext-plugin-post-resp document, verbatim but host and port, through curl', async (t) => {
  if (!(await hasCurl())) {
    if (process.env.CI !== undefined) t.fail('curl is not installed')
    else t.comment('skipped: curl is not installed')
    return
  }
  const m = await mount(w, {})
  t.teardown(() => m.close())
  const adminPort = new URL(m.admin).port
  const gatewayPort = new URL(m.url).port
  // only the ports change: the Admin API's, the gateway's and (if 1980 was taken) the upstream's
  const local = (command: string): string =>
    command.replaceAll('127.0.0.1:9180', `127.0.0.1:${adminPort}`).replaceAll('127.0.0.1:9080', `127.0.0.1:${gatewayPort}`).replaceAll('127.0.0.1:1980', `127.0.0.1:${upstream.port}`)
  const sh = async (command: string): Promise<string> => (await run('sh', ['-c', local(command)], { env: { ...process.env, admin_key: ADMIN_KEY } })).stdout

  const before = await sh(TRY)
  t.match(before, /^HTTP\/1\.1 404 /, 'no route yet')

  const enabled = await sh(ENABLE)
  t.match(enabled, /^HTTP\/1\.1 201 /, 'route 1 created')
  t.match(enabled, /x-api-version: v3/i)
  const created = JSON.parse(enabled.slice(enabled.indexOf('\r\n\r\n') + 4)) as { key: string; value: { plugins: Record<string, unknown> } }
  t.equal(created.key, '/apisix/routes/1')
  t.ok(created.value.plugins['ext-plugin-post-resp'], 'stored as sent')

  const withPlugin = await sh(TRY)
  t.match(withPlugin, /^HTTP\/1\.1 200 /)
  t.match(withPlugin, /x-ext-a: feature/i, 'the runner ran ext-plugin-A on the response')
  t.match(withPlugin, /"server":"doc-upstream"/)

  const removed = await sh(REMOVE)
  const replaced = JSON.parse(removed) as { key: string; value: Record<string, unknown> }
  t.equal(replaced.key, '/apisix/routes/1')
  t.notOk('plugins' in replaced.value, 'the plugin is gone from the stored route')

  const withoutPlugin = await sh(TRY)
  t.match(withoutPlugin, /^HTTP\/1\.1 200 /)
  t.notMatch(withoutPlugin, /x-ext-a/i, 'the next request no longer runs the plugin')
  t.match(withoutPlugin, /"server":"doc-upstream"/)
})
