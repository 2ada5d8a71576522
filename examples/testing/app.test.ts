// test/orders.test.ts: `node --import tsx --test test/orders.test.ts`
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import express from 'express'
import { createExtPlugin, type ExtPlugin } from 'apisix-ext-plugin'
import { extPlugin } from 'apisix-ext-plugin/express'
import { definePlugin, fakeRunner, type FakeRunner } from 'apisix-ext-plugin/testing'

// The app under test: its route asks the runner's `auth` plugin first.
function createApp(ext: ExtPlugin) {
  const app = express()
  app.use(extPlugin(ext, { plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'auth', value: '{"key":"s3cret"}' }] } } }))
  app.get('/orders', (req, res) => void res.json({ user: req.headers['x-user'] }))
  return app
}

// A stand-in for the real runner plugin, written with the same API.
const auth = definePlugin({
  name: 'auth',
  parseConf: (value) => JSON.parse(value) as { key: string },
  requestFilter(conf, request, response) {
    if (request.headers.get('x-api-key') !== conf.key) response.setStatus(401).write('who are you?')
    else request.headers.set('x-user', 'ann')
  },
})

let runner: FakeRunner
let ext: ExtPlugin
let url: string
let close: () => void

before(async () => {
  runner = await fakeRunner({ plugins: [auth] })
  ext = createExtPlugin({ runner: { socket: runner.socket }, callTimeout: 500 })
  const server = createApp(ext).listen(0)
  await new Promise((resolve) => server.once('listening', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  close = () => server.close()
})

after(async () => {
  close()
  await ext.close()
  await runner.close()
})

test('the runner lets a request with the key through, rewritten', async () => {
  const res = await fetch(`${url}/orders?page=2`, { headers: { 'x-api-key': 's3cret' } })
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { user: 'ann' })
  const call = runner.calls.at(-1)
  assert.equal(call?.type === 'request' && call.path, '/orders')
  assert.deepEqual(runner.prepares[0]?.conf, [{ name: 'auth', value: '{"key":"s3cret"}' }])
})

test('without the key the runner answers 401', async () => {
  const res = await fetch(`${url}/orders`)
  assert.equal(res.status, 401)
  assert.equal(await res.text(), 'who are you?')
})

test('a runner that fails or hangs gives 503', async () => {
  runner.fail('rpc-error')
  assert.equal((await fetch(`${url}/orders`, { headers: { 'x-api-key': 's3cret' } })).status, 503)
  runner.fail('stall')
  assert.equal((await fetch(`${url}/orders`, { headers: { 'x-api-key': 's3cret' } })).status, 503)
  assert.equal((await fetch(`${url}/orders`, { headers: { 'x-api-key': 's3cret' } })).status, 200)
})
