// The published package's contents: the build, the schema and the bin; no sources or tests.
// The tarball is packed once per tree and shared with the other consumer files (tarball.ts).
import { execFileSync } from 'node:child_process'
import { packedTarball } from './tarball.js'
import t from 'tap'

t.setTimeout(180_000)
const tarball = await packedTarball()

t.test('the tarball holds the build, the schema, the bin; not the sources or tests', async (t) => {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n')
  t.ok(listing.includes('package/dist/esm/src/index.js'))
  t.ok(listing.includes('package/dist/cjs/src/index.js'))
  t.ok(listing.includes('package/dist/esm/adapters/express.d.ts'))
  t.ok(listing.includes('package/bin/apisix-ext-plugin-runner.mjs'))
  t.ok(listing.includes('package/fbs/ext-plugin.fbs'))
  t.notOk(listing.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/')), 'no tests or TypeScript sources')
})
