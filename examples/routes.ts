// The routes every example mounts, for the TypeScript demo runner (apisix-ext-plugin/runner/demo)
// or for the Go test runner (test/interop/go-runner). Same shapes as an APISIX route's plugins.
import type { RouteConfig } from 'apisix-ext-plugin'

const runnerConf = (name: string, value: unknown) => ({ name, value: JSON.stringify(value) })

export interface ExampleRoutes {
  /** /api/*: the runner checks an API key (Stop 401), rewrites /api/x to /v1/x, then redacts the response. */
  readonly api: RouteConfig
  /** /echo: the runner answers itself with what it was told. */
  readonly echo: RouteConfig
}

export const tsRunnerRoutes: ExampleRoutes = {
  api: {
    id: 'api',
    plugins: {
      'ext-plugin-pre-req': {
        conf: [
          runnerConf('auth', { header: 'x-api-key', keys: ['s3cret'] }),
          runnerConf('rewrite-path', { prefix: '/api', to: '/v1', request_headers: { 'x-rewritten': '1' }, response_headers: { 'x-route': 'v1' } }),
        ],
      },
      'ext-plugin-post-resp': {
        conf: [runnerConf('redact', { patterns: ['\\b\\d{4}-\\d{4}-\\d{4}-\\d{4}\\b'], replacement: '[card]' })],
        // a runner failure here answers 503 with this body instead of nginx's page
        _meta: { error_response: { message: 'the redaction runner is unavailable' } },
      },
    },
  },
  echo: {
    id: 'echo',
    plugins: { 'ext-plugin-pre-req': { conf: [runnerConf('echo', { vars: ['remote_addr', 'route_id', 'arg_name'] })] } },
  },
}

/** The same demonstration with the Go runner's test plugins (test/interop/go-runner/README.md). */
export const goRunnerRoutes: ExampleRoutes = {
  api: {
    id: 'api',
    plugins: {
      'ext-plugin-pre-req': {
        conf: [runnerConf('stop', { status: 401, headers: [['Content-Type', 'application/json']], body: '{"error":"unauthorized"}' })],
        // the Go test plugins have no key check: let requests with the key skip the Stop
        _meta: { filter: [['http_x_api_key', '~=', 's3cret']] },
      },
      'ext-plugin-post-req': {
        conf: [runnerConf('rewrite', { path: '/v1/orders', headers: { 'x-rewritten': '1', 'x-api-key': null }, resp_headers: [['X-Route', 'v1']] })],
      },
      'ext-plugin-post-resp': {
        conf: [runnerConf('resp', { headers: { 'X-Redacted': 'by the Go runner', 'Content-Type': 'application/json' } })],
      },
    },
  },
  echo: {
    id: 'echo',
    plugins: { 'ext-plugin-pre-req': { conf: [runnerConf('vars', { names: ['remote_addr', 'route_id', 'arg_name'] })] } },
  },
}

/** What the application itself answers: an order with a card number for the runner to redact. */
export function order(path: string): { path: string; order: { id: number; card: string; total: string } } {
  return { path, order: { id: 42, card: '4111-1111-1111-1111', total: '99.90' } }
}
