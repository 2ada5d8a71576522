// listen(): where the runner listens (APISIX_LISTEN_ADDRESS or an explicit address), what
// it does with a file already there, the socket's mode, and the option checks.
import { spawnSync } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ErrorCode } from '../../src/errors.js'
import { createRunner, definePlugin } from '../../src/runner-server/index.js'
import { RawClient, stopOf, tempDir } from './fixtures/gateway.js'

const ok = definePlugin({ name: 'ok', requestFilter: (_c, _r, response) => void response.setStatus(200) })

function withEnv(t: Test, env: Record<string, string | undefined>): void {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
}

t.test('APISIX_LISTEN_ADDRESS: a clear error unless it is unix:<path>', async (t) => {
  const cases: Array<[string | undefined, RegExp]> = [
    [undefined, /^APISIX_LISTEN_ADDRESS is not set: the runner needs a unix socket address such as unix:\/tmp\/runner\.sock$/],
    ['', /^APISIX_LISTEN_ADDRESS is not set/],
    ['/tmp/r.sock', /^APISIX_LISTEN_ADDRESS must be a unix socket address such as unix:\/tmp\/runner\.sock, got "\/tmp\/r\.sock"$/],
    ['tcp://127.0.0.1:9000', /must be a unix socket address .* got "tcp:\/\/127\.0\.0\.1:9000"$/],
    ['unix:', /must be a unix socket address .* got "unix:"$/],
    [`unix:/tmp/${'x'.repeat(120)}.sock`, /the socket path .* is longer than 107 bytes$/],
  ]
  for (const [value, message] of cases) {
    const inner = t.test(`APISIX_LISTEN_ADDRESS=${JSON.stringify(value)}`, async (t) => {
      withEnv(t, { APISIX_LISTEN_ADDRESS: value })
      await t.rejects(createRunner({ plugins: [ok] }).listen(), { code: ErrorCode.INVALID_OPTIONS, message })
    })
    await inner
  }
  await t.rejects(createRunner({ plugins: [ok] }).listen('/tmp/x.sock'), {
    code: ErrorCode.INVALID_OPTIONS,
    message: 'the listen address must be a unix socket address such as unix:/tmp/runner.sock, got "/tmp/x.sock"',
  })
})

t.test('APISIX_CONF_EXPIRE_TIME must be a positive number', async (t) => {
  const dir = tempDir(t)
  for (const value of ['0', '-5', 'soon']) {
    withEnv(t, { APISIX_CONF_EXPIRE_TIME: value })
    await t.rejects(createRunner({ plugins: [ok] }).listen(`unix:${join(dir, 'r.sock')}`), {
      code: ErrorCode.INVALID_OPTIONS,
      message: `APISIX_CONF_EXPIRE_TIME must be a positive number of seconds, got "${value}"`,
    })
  }
  t.throws(() => createRunner({ plugins: [ok], confExpireTime: 0 }), { code: ErrorCode.INVALID_OPTIONS })
})

t.test('listens on APISIX_LISTEN_ADDRESS; socket mode 0766; the file is removed on close', async (t) => {
  const path = join(tempDir(t), 'r.sock')
  withEnv(t, { APISIX_LISTEN_ADDRESS: `unix:${path}` })
  const runner = createRunner({ plugins: [ok] })
  await runner.listen()
  t.equal(runner.address, `unix:${path}`)
  t.equal(statSync(path).mode & 0o777, 0o766, 'group and others can connect, as with the Go runner')
  const c = await RawClient.connect(path)
  t.equal(stopOf(await c.reqCall(await c.prepare([['ok', '']]))).status, 200)
  await runner.close()
  t.notOk(existsSync(path))
  await t.rejects(runner.listen(), { code: ErrorCode.INVALID_OPTIONS }, 'a runner listens once')
})

t.test('a stale socket file from a dead runner is removed', async (t) => {
  const path = join(tempDir(t), 'r.sock')
  // A process that listens and dies without cleaning up leaves its socket file behind.
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`])
  t.equal(r.status, 0)
  t.ok(statSync(path).isSocket(), 'stale socket present')
  const runner = createRunner({ plugins: [ok] })
  t.teardown(() => runner.close())
  await runner.listen(`unix:${path}`)
  const c = await RawClient.connect(path)
  t.equal(stopOf(await c.reqCall(await c.prepare([['ok', '']]))).status, 200)
  c.destroy()
})

t.test('any other file at the path is left alone: a clear error', async (t) => {
  const path = join(tempDir(t), 'not-a-socket')
  writeFileSync(path, 'precious')
  await t.rejects(createRunner({ plugins: [ok] }).listen(`unix:${path}`), {
    code: ErrorCode.RUNNER_START,
    message: `unix:${path}: the path exists and is not a socket; not removing it`,
  })
  t.ok(existsSync(path))
})

t.test('a directory that does not exist: RUNNER_START naming the address', async (t) => {
  const path = join(tempDir(t), 'missing', 'r.sock')
  await t.rejects(createRunner({ plugins: [ok] }).listen(`unix:${path}`), {
    code: ErrorCode.RUNNER_START,
    message: new RegExp(`^failed to listen on unix:${path}: listen E[A-Z]+`),
  })
})

t.test('createRunner checks its plugins', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [undefined, /needs plugins/],
    [[{ requestFilter() {} }], /plugin 0 has no name/],
    [[ok, { ...ok }], /two plugins are named ok/],
    [[{ name: 'x', requestFilter: 'no' }], /plugin x: requestFilter is not a function/],
    [[null], /plugin 0 is not an object/],
  ]
  for (const [plugins, message] of bad) {
    t.throws(() => createRunner({ plugins: plugins as never }), { code: ErrorCode.INVALID_OPTIONS, message })
  }
  t.doesNotThrow(() => createRunner({ plugins: { ok, other: { ...ok, name: 'other' } } }), 'an object of plugins')
})
