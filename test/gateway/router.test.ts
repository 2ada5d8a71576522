// Matching tables of apisix-config.md §2.5 against the default router, radixtree_host_uri.
import t from 'tap'
import { validateConfig } from '../../src/gateway/config/validate.js'
import { createRouter } from '../../src/gateway/router/router.js'

const up = { nodes: { '127.0.0.1:1980': 1 } }
const cases: Array<[string, object[], { method?: string; host?: string; path: string }, string | undefined]> = [
  ['exact beats prefix', [{ id: 'A', uri: '/api/*', priority: 100 }, { id: 'B', uri: '/api/users' }], { path: '/api/users' }, 'B'],
  ['longer prefix wins', [{ id: 'A', uri: '/api/*', priority: 100 }, { id: 'B', uri: '/api/v1/*' }], { path: '/api/v1/x' }, 'B'],
  ['priority on one key', [{ id: 'A', uri: '/hello', priority: 3 }, { id: 'B', uri: '/hello', priority: 2 }], { path: '/hello' }, 'A'],
  ['method falls through', [{ id: 'A', uri: '/hello', methods: ['POST'] }, { id: 'B', uri: '/*' }], { method: 'GET', path: '/hello' }, 'B'],
  ['host routes first', [{ id: 'A', uri: '/*', hosts: ['foo.com'] }, { id: 'B', uri: '/api' }], { host: 'foo.com', path: '/api' }, 'A'],
  ['exact host beats wildcard, port ignored', [{ id: 'A', uri: '/x', hosts: ['*.foo.com'] }, { id: 'B', uri: '/x', hosts: ['a.foo.com'] }], { host: 'a.foo.com:8080', path: '/x' }, 'B'],
  ['wildcard needs a label', [{ id: 'A', uri: '/x', hosts: ['*.foo.com'] }], { host: 'foo.com', path: '/x' }, undefined],
  ['status 0 is off', [{ id: 'A', uri: '/x', status: 0 }], { path: '/x' }, undefined],
  ['/a/* not /a', [{ id: 'A', uri: '/a/*' }], { path: '/a' }, undefined],
  ['/a* matches /ab', [{ id: 'A', uri: '/a*' }], { path: '/ab' }, 'A'],
  ['inner glob', [{ id: 'A', uri: '/a/*/c' }], { path: '/a/x/y/c' }, 'A'],
  ['inner glob mismatch', [{ id: 'A', uri: '/a/*/c' }], { path: '/a/x/d' }, undefined],
  ['longer prefix first again', [{ id: 'A', uri: '/a*' }, { id: 'B', uri: '/ab*' }], { path: '/ab' }, 'B'],
  ['equal everything: file order', [{ id: 'A', uri: '/z' }, { id: 'B', uri: '/z' }], { path: '/z' }, 'A'],
]
for (const [name, routes, request, expected] of cases) {
  t.test(name, async (t) => {
    const snapshot = validateConfig({ routes: routes.map((r) => ({ upstream: up, ...r })) })
    const router = createRouter(snapshot)
    t.equal(router.match({ method: request.method ?? 'GET', host: request.host, path: request.path })?.id, expected)
  })
}

t.test('vars and remote_addrs', async (t) => {
  const snapshot = validateConfig({
    routes: [
      { id: 'A', uri: '/v', vars: [['http_x_tenant', '~~', '^[a-z]+$']], remote_addrs: ['10.0.0.0/8'], upstream: up },
      { id: 'B', uri: '/v', upstream: up },
    ],
  })
  const router = createRouter(snapshot)
  t.equal(router.match({ method: 'GET', path: '/v', remoteAddr: '10.1.2.3', vars: { http_x_tenant: 'acme' } })?.id, 'A')
  t.equal(router.match({ method: 'GET', path: '/v', remoteAddr: '10.1.2.3', vars: { http_x_tenant: 'AC1' } })?.id, 'B')
  t.equal(router.match({ method: 'GET', path: '/v', remoteAddr: '192.168.0.1', vars: { http_x_tenant: 'acme' } })?.id, 'B')
})
