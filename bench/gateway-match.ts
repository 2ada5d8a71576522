// Route match cost at 10 and 10 000 routes (half exact, half prefix): run with
// `node --import tsx bench/gateway-match.ts`.
import { validateConfig } from '../src/gateway/config/validate.js'
import { createRouter } from '../src/gateway/router/router.js'

for (const n of [10, 10_000]) {
  const routes = Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    uri: i % 2 === 0 ? `/svc${i}/items` : `/svc${i}/*`,
    upstream: { nodes: { '127.0.0.1:1980': 1 } },
  }))
  const router = createRouter(validateConfig({ routes }))
  const paths = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? `/svc${(i * 7919) % n & ~1}/items` : `/svc${((i * 7919) % n) | 1}/a/b`))
  let hits = 0
  const rounds = 500
  for (let i = 0; i < 20_000; i++) router.match({ method: 'GET', path: paths[i % 1000]! })
  const start = process.hrtime.bigint()
  for (let r = 0; r < rounds; r++) for (const path of paths) if (router.match({ method: 'GET', path })) hits++
  const ns = Number(process.hrtime.bigint() - start) / (rounds * paths.length)
  console.log(`${n} routes: ${ns.toFixed(0)} ns per match (${hits} hits of ${rounds * paths.length})`)
}
