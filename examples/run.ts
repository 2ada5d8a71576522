// `npm run example -- [express|koa|http|fastify|fetch|gateway] [--runner ts|go] [--port N]`
// Starts one example app with a runner and prints what to try. Ctrl-C stops both.
import { spawnSync } from 'node:child_process'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { createExtPlugin } from 'apisix-ext-plugin'
import { goRunnerRoutes, tsRunnerRoutes } from './routes.js'

const args = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback
}
const framework = args.find((a) => ['express', 'koa', 'http', 'fastify', 'fetch', 'gateway'].includes(a)) ?? 'express'
const runner = option('runner', 'ts')
const port = Number(option('port', '8080'))

let cmd: string[]
if (runner === 'go') {
  const build = spawnSync(process.execPath, [fileURLToPath(new URL('../test/interop/build-go-runner.mjs', import.meta.url))], { stdio: 'inherit' })
  if (build.status !== 0) process.exit(1)
  cmd = [fileURLToPath(new URL('../test/interop/go-runner/bin/go-runner', import.meta.url))]
} else {
  // The TypeScript runner, exactly as APISIX would start it: its bin with a plugins module.
  const bin = createRequire(import.meta.url).resolve('apisix-ext-plugin/package.json').replace(/package\.json$/, 'bin/apisix-ext-plugin-runner.mjs')
  cmd = [process.execPath, bin, 'apisix-ext-plugin/runner/demo']
}

const ext = createExtPlugin({
  runner: { cmd, env: { GO_RUNNER_LOG_LEVEL: 'warn' } },
  logger: { debug() {}, info() {}, warn: (_fields, m: string) => console.warn(`[ext-plugin] ${m}`), error: (_fields, m: string) => console.error(`[ext-plugin] ${m}`) },
})
await ext.ready()
const routes = runner === 'go' ? goRunnerRoutes : tsRunnerRoutes

if (framework === 'gateway') {
  if (runner !== 'ts') throw new Error('the gateway example uses the TypeScript runner')
  const gateway = (await import('./gateway/app.js')).startGateway(ext, port)
  gateway.server.once('listening', () => {
    const base = `http://localhost:${port}`
    console.log(`gateway example on ${base}: examples/gateway/apisix.yaml (edit it: it reloads), TypeScript runner (pid ${ext.process?.pid}). Try:

  curl -i ${base}/index.html                              # proxied to upstream a; the global rule redacts the card number
  curl -i ${base}/api/orders                              # the plugin config's auth answers 401 (Stop)
  curl -i -H 'x-api-key: s3cret' ${base}/api/orders       # the service rewrites to /v1/orders, balanced over a and b
  curl -i '${base}/echo?name=you'                         # the runner answers with what it saw
  curl -i -H 'apikey: alice-secret' ${base}/private       # key-auth: the consumer alice (without the key: 401)
  curl -i ${base}/nothing                                 # {"error_msg":"404 Route Not Found"}

Ctrl-C stops the gateway, the upstreams and the runner.`)
  })
  process.once('SIGINT', async () => {
    await gateway.close()
    await ext.close()
    process.exit(0)
  })
} else {
  await startApp()
}

async function startApp(): Promise<void> {
let server: Server
if (framework === 'koa') server = (await import('./koa/app.js')).createApp(ext, routes).listen(port)
else if (framework === 'http') server = (await import('./http/app.js')).createServer(ext, routes).listen(port)
else if (framework === 'fastify') {
  const app = await (await import('./fastify/app.js')).createApp(ext, routes)
  await app.listen({ port })
  server = app.server
} else if (framework === 'fetch') server = (await import('./fetch/app.js')).createServer(ext, routes).listen(port)
else server = (await import('./express/app.js')).createApp(ext, routes).listen(port)

server.once('listening', () => {
  const base = `http://localhost:${port}`
  console.log(`${framework} example on ${base}, ${runner === 'go' ? 'Go' : 'TypeScript'} runner (pid ${ext.process?.pid}). Try:

  curl -i ${base}/hello                                   # the application alone
  curl -i ${base}/api/orders                              # the runner answers 401 itself (Stop)
  curl -i -H 'x-api-key: s3cret' ${base}/api/orders       # rewritten to /v1/orders; the response phase ${runner === 'go' ? 'sets headers' : 'redacts the card number'}
  curl -i '${base}/echo?name=you'                         # the runner answers with what it saw (ExtraInfo Var)

Ctrl-C stops the app and the runner.`)
})

process.once('SIGINT', async () => {
  server.close()
  await ext.close()
  process.exit(0)
})
}
