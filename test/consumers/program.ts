// What the consumer projects run: the same program in each module system, and a TypeScript
// file whose types must check against the package's declarations.
// What every consumer does, in its module system: a runner from the package's own bin with
// the packaged demo plugins, a server through the http adapter, one request, a clean close.
export const program = (imports: string) => `${imports}
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

export const esm = program(`import http from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createExtPlugin } from 'apisix-ext-plugin'
import { withExtPlugin } from 'apisix-ext-plugin/http'
import { createRunner } from 'apisix-ext-plugin/runner'
const require = createRequire(import.meta.url)`)

export const cjs = `(async () => {
${program(`const http = require('node:http')
const { dirname, join } = require('node:path')
const { createExtPlugin } = require('apisix-ext-plugin')
const { withExtPlugin } = require('apisix-ext-plugin/http')
const { createRunner } = require('apisix-ext-plugin/runner')`)}
})()`

export const ts = `import http from 'node:http'
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

