// The interop test plugins of test/interop/go-runner (same names, same JSON confs), for
// apisix-ext-plugin/runner. Started by test/interop/ts-runner.test.ts through the real bin
// script, as APISIX would start it. Differences from the Go plugins: see README.md here.
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  binaryToUtf8,
  definePlugin,
  type ReadonlyHeaders,
  type RunnerPlugin,
  type RunnerRequest,
  type RunnerResponse,
  type StopResponse,
} from '../../../src/runner-server/index.js'

type Pairs = Array<[string, string]>

/** Like the Go plugins' decodeConf: empty means all defaults. */
function json<T extends object>(value: string, defaults: T): T {
  return value.trim() === '' ? defaults : { ...defaults, ...(JSON.parse(value) as Partial<T>) }
}

function checkPairs(pairs: unknown, what: string): Pairs {
  if (pairs === undefined || pairs === null) return []
  if (!Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2)) {
    throw new Error(`${what}: want [[name, value], …]`)
  }
  return pairs as Pairs
}

const byName = <T extends [string, unknown]>(pairs: T[]): T[] => [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
const sortedKeys = (o: Record<string, unknown>): string[] => Object.keys(o).sort()

/** Header pairs sorted by name, each name's values in order (Go's multiPairs). */
function headerPairs(headers: ReadonlyHeaders): Pairs {
  return byName(headers.entries().map(([n, v]) => [n.toLowerCase(), binaryToUtf8(v)]))
}

function writeJSON(response: StopResponse | RunnerResponse, value: unknown): void {
  response.headers.set('Content-Type', 'application/json')
  response.setStatus(200).write(JSON.stringify(value))
}

async function lookupVars(source: RunnerRequest | RunnerResponse, names: readonly string[]) {
  const out: Record<string, string | null> = {}
  for (const name of [...names].sort()) {
    const value = await source.var(name)
    out[name] = value === undefined ? null : binaryToUtf8(value)
  }
  return out
}

const stop = definePlugin({
  name: 'stop',
  parseConf: (value) => {
    const c = json(value, { status: 0, headers: [] as Pairs, body: '' })
    return { ...c, headers: checkPairs(c.headers, 'headers') }
  },
  requestFilter(c, _request, response) {
    // As the Go runner: headers alone do not stop the request.
    if (c.status === 0 && c.body === '') return
    for (const [name, value] of c.headers) response.headers.append(name, value)
    if (c.status !== 0) response.setStatus(c.status)
    if (c.body !== '') response.write(c.body)
  },
})

const rewrite = definePlugin({
  name: 'rewrite',
  parseConf: (value) => {
    const c = json(value, {
      path: undefined as string | undefined,
      headers: {} as Record<string, string | null>,
      args: {} as Record<string, string | null>,
      args_add: [] as Pairs,
      resp_headers: [] as Pairs,
      body: undefined as string | undefined,
    })
    return { ...c, args_add: checkPairs(c.args_add, 'args_add'), resp_headers: checkPairs(c.resp_headers, 'resp_headers') }
  },
  requestFilter(c, request) {
    if (c.path !== undefined) request.path = c.path
    for (const name of sortedKeys(c.headers)) {
      const value = c.headers[name]
      if (value === null || value === undefined) request.headers.delete(name)
      else request.headers.set(name, value)
    }
    for (const name of sortedKeys(c.args)) {
      const value = c.args[name]
      if (value === null || value === undefined) request.args.delete(name)
      else request.args.set(name, value)
    }
    for (const [name, value] of c.args_add) request.args.append(name, value)
    for (const [name, value] of c.resp_headers) request.respHeaders.append(name, value)
    if (c.body !== undefined) request.setBody(c.body)
  },
})

const vars = definePlugin({
  name: 'vars',
  parseConf: (value) => json(value, { names: [] as string[] }),
  async requestFilter(c, request, response) {
    writeJSON(response, await lookupVars(request, c.names))
  },
})

const echoBody = definePlugin({
  name: 'echo-body',
  parseConf: () => ({}),
  async requestFilter(_c, request, response) {
    const body = await request.body()
    response.headers.set('X-Body-Length', String(body?.length ?? 0))
    response.headers.set('X-Body-Absent', String(body === undefined))
    response.setStatus(200)
    if (body !== undefined) response.write(body)
  },
})

const readBody = definePlugin({
  name: 'read-body',
  parseConf: () => ({}),
  async requestFilter(_c, request) {
    const body = (await request.body()) ?? Buffer.alloc(0)
    request.headers.set('X-Runner-Body-Length', String(body.length))
    request.headers.set('X-Runner-Body-Sha256', createHash('sha256').update(body).digest('hex'))
  },
})

const requestInfo = definePlugin({
  name: 'request-info',
  parseConf: (value) => ({ raw: value }),
  requestFilter(c, request, response) {
    writeJSON(response, {
      id: request.id,
      src_ip: request.srcIp ?? null,
      method: request.method,
      path: binaryToUtf8(request.path),
      args: byName(request.args.entries().map(([n, v]) => [binaryToUtf8(n), v === null ? null : binaryToUtf8(v)])),
      headers: headerPairs(request.headers),
      conf: c.raw,
    })
  },
})

const noop = definePlugin({ name: 'noop', parseConf: () => ({}) })

const resp = definePlugin({
  name: 'resp',
  parseConf: (value) =>
    json(value, {
      status: 0,
      headers: {} as Record<string, string>,
      read_body: false,
      body: undefined as string | undefined,
      append_body: undefined as string | undefined,
      info: false,
      vars: [] as string[],
    }),
  async responseFilter(c, response) {
    if (c.info) {
      const info: Record<string, unknown> = {
        status: response.status,
        headers: headerPairs(response.headers),
        vars: await lookupVars(response, c.vars),
      }
      if (c.read_body) {
        const body = await response.body()
        info.body = body === undefined ? null : body.toString('utf8')
      }
      response.setStatus(200).setBody(JSON.stringify(info))
      return
    }
    for (const name of sortedKeys(c.headers)) response.headers.set(name, c.headers[name]!)
    if (c.status !== 0) response.setStatus(c.status)
    if (c.read_body) {
      const body = await response.body()
      if (c.append_body !== undefined) response.write(body ?? '').write(c.append_body)
    }
    if (c.body !== undefined) response.write(c.body)
  },
})

/** A failing plugin. Every mode ends in RPC_ERROR SERVICE_UNAVAILABLE and the runner goes on. */
function fail(mode: string, response: StopResponse | RunnerResponse): void | Promise<void> {
  switch (mode) {
    case 'throw':
    case 'panic':
      throw new Error('fail plugin: deliberate failure')
    case 'reject':
      return Promise.reject(new Error('fail plugin: deliberate rejection'))
    default:
      // oversize, wrap: a reply over 16 MiB cannot be encoded.
      response.write(Buffer.alloc((1 << 24) + 4096))
  }
}

const failing = definePlugin({
  name: 'fail',
  parseConf: (value) => {
    const c = json(value, { mode: 'throw' })
    if (!['throw', 'panic', 'reject', 'oversize', 'wrap'].includes(c.mode)) throw new Error(`unknown mode ${c.mode}`)
    return c
  },
  requestFilter: (c, _request, response) => fail(c.mode, response),
  responseFilter: (c, response) => fail(c.mode, response),
})

const slow = definePlugin({
  name: 'slow',
  parseConf: (value) => json(value, { ms: 0 }),
  requestFilter: async (c) => void (await sleep(c.ms)),
  responseFilter: async (c) => void (await sleep(c.ms)),
})

const exit = definePlugin({
  name: 'exit',
  parseConf: (value) => json(value, { code: 0 }),
  requestFilter: (c) => process.exit(c.code),
  responseFilter: (c) => process.exit(c.code),
})

export const plugins: Array<RunnerPlugin<unknown>> = [
  stop, rewrite, vars, echoBody, readBody, requestInfo, noop, resp, failing, slow, exit,
]
