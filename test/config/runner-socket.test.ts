// runner.socket must be a Unix socket path: anything with a URL scheme is refused at creation.
import t from 'tap'
import { ConfigError, ErrorCode, createExtPlugin } from '../../src/index.js'

t.test('a runner socket that is not a Unix path is a ConfigError at creation', async (t) => {
  for (const socket of ['tcp://127.0.0.1:9000', 'http://localhost:8080', 'unix:tcp://x', 'unix:']) {
    t.throws(() => createExtPlugin({ runner: { socket } }), {
      constructor: ConfigError,
      code: ErrorCode.INVALID_OPTIONS,
      path: '/runner/socket',
      message: new RegExp(`must be a Unix socket path .*got ${JSON.stringify(JSON.stringify(socket)).slice(1, -1)}`),
    }, socket)
  }
  for (const socket of ['/tmp/r.sock', 'unix:/tmp/r.sock', 'r.sock']) {
    const ext = createExtPlugin({ runner: { socket } })
    t.ok(ext.client, `${socket} is accepted`)
    ext.destroy()
  }
})
