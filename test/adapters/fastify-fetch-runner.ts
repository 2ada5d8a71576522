// The real TypeScript runner, in this process, with the few plugins the Fastify and fetch
// adapter tests configure (so they can count what it was asked), on a socket of its own.
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { createExtPlugin, type ExtPlugin, type ExtPluginOptions } from '../../src/ext-plugin.js'
import { createRunner, definePlugin } from '../../src/runner-server/index.js'

export interface TestRunner {
  readonly socket: string
  /** Request-phase calls per plugin name. */
  readonly calls: Map<string, number>
  /** An ExtPlugin on this runner, closed when the test ends. */
  ext(t: Test, options?: Omit<ExtPluginOptions, 'runner'>): ExtPlugin
}

const count = (calls: Map<string, number>, name: string): void => {
  calls.set(name, (calls.get(name) ?? 0) + 1)
}

export async function startRunner(t: Test): Promise<TestRunner> {
  const calls = new Map<string, number>()
  const plugins = [
    definePlugin({
      name: 'stop',
      parseConf: (value) => JSON.parse(value) as { status: number; body?: string; headers?: Record<string, string> },
      requestFilter(conf, _request, response) {
        count(calls, 'stop')
        for (const [name, value] of Object.entries(conf.headers ?? {})) response.headers.set(name, value)
        response.setStatus(conf.status).write(conf.body ?? '')
      },
    }),
    definePlugin({
      name: 'rewrite',
      parseConf: (value) => JSON.parse(value) as { path?: string; args?: Record<string, string>; headers?: Record<string, string>; resp_headers?: Record<string, string> },
      requestFilter(conf, request) {
        count(calls, 'rewrite')
        if (conf.path !== undefined) request.path = conf.path
        for (const [name, value] of Object.entries(conf.args ?? {})) request.args.set(name, value)
        for (const [name, value] of Object.entries(conf.headers ?? {})) request.headers.set(name, value)
        for (const [name, value] of Object.entries(conf.resp_headers ?? {})) request.respHeaders.set(name, value)
      },
    }),
    definePlugin({
      name: 'read-body',
      requestFilter: async (_conf, request) => {
        count(calls, 'read-body')
        const body = (await request.body()) ?? Buffer.alloc(0)
        request.headers.set('x-runner-sha256', createHash('sha256').update(body).digest('hex'))
        request.headers.set('x-runner-length', String(body.length))
      },
    }),
    definePlugin({
      name: 'vars',
      parseConf: (value) => JSON.parse(value) as { names: string[] },
      async requestFilter(conf, request) {
        count(calls, 'vars')
        for (const name of conf.names) request.headers.set(`x-var-${name}`, (await request.var(name)) ?? '(none)')
      },
    }),
    definePlugin({
      name: 'resp',
      parseConf: (value) => JSON.parse(value) as { status?: number; append?: string },
      async responseFilter(conf, response) {
        count(calls, 'resp')
        if (conf.status !== undefined) response.setStatus(conf.status)
        response.headers.set('x-resp', 'runner')
        if (conf.append !== undefined) {
          const body = (await response.body()) ?? Buffer.alloc(0)
          response.setBody(Buffer.concat([body, Buffer.from(conf.append)]))
        }
      },
    }),
  ]
  const dir = mkdtempSync(join(tmpdir(), 'adapters-runner-'))
  const socket = join(dir, 'runner.sock')
  const runner = createRunner({ plugins })
  await runner.listen(`unix:${socket}`)
  t.teardown(async () => {
    await runner.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    socket,
    calls,
    ext(t, options = {}) {
      const ext = createExtPlugin({ ...options, runner: { socket } })
      t.teardown(() => ext.close())
      return ext
    },
  }
}

export const conf = (name: string, value: unknown = {}): { name: string; value: string } => ({ name, value: JSON.stringify(value) })

// ---- Fastify: the application both Fastify test files mount

/** The application: every route answers with what Fastify made of the request. */
export function routes(app: FastifyInstance, hits: string[]): void {
  const answer = (name: string) => async (request: { url: string; query: unknown; headers: Record<string, unknown>; body?: unknown }) => {
    hits.push(name)
    return { route: name, url: request.url, query: request.query, headers: request.headers, body: request.body ?? null }
  }
  app.get('/new', answer('new'))
  app.post('/new', answer('new'))
  app.get('/old', answer('old'))
  app.get('/api/v1', answer('api'))
  app.get('/elsewhere', answer('elsewhere'))
}

export const rewriting = { plugins: { 'ext-plugin-pre-req': { conf: [conf('rewrite', { path: '/new', args: { a: 'b' }, headers: { 'x-rewritten': '1' } })] } } }
