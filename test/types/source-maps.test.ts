// What the package ships for debuggers and editors: no declaration maps (they would point
// into src/, which is not shipped), and JavaScript source maps that embed their sources.
import { execFileSync } from 'node:child_process'
import t from 'tap'
import { packedTarball } from '../consumers/tarball.js'

t.setTimeout(180_000)
const tarball = await packedTarball()
const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n')

t.test('no .d.ts.map in the package', async (t) => {
  t.ok(listing.some((f) => f.endsWith('.d.ts')), 'declarations are there')
  t.strictSame(listing.filter((f) => f.endsWith('.d.ts.map')), [])
})

t.test('every .js.map carries the sources it names', async (t) => {
  const maps = listing.filter((f) => f.endsWith('.js.map'))
  t.ok(maps.length > 50, `${maps.length} source maps`)
  for (const name of ['package/dist/esm/src/index.js.map', 'package/dist/cjs/adapters/express.js.map', 'package/dist/esm/src/testing/relay.js.map']) {
    const map = JSON.parse(execFileSync('tar', ['-xzOf', tarball, name], { encoding: 'utf8' })) as { sources: string[]; sourcesContent?: Array<string | null> }
    t.equal(map.sourcesContent?.length, map.sources.length, `${name}: one content per source`)
    t.ok(map.sourcesContent?.every((c) => typeof c === 'string' && c.length > 0), `${name}: contents embedded`)
  }
})
