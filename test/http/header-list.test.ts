// HeaderList against a plain model (an array of lines, scanned): the same answers whether
// the list is short (scanned) or long (indexed, with deleted lines compacted later),
// over a seeded random mix of set, append, delete, get and getAll.
import t from 'tap'
import { HeaderList } from '../../src/engine/headers.js'

function model() {
  let lines: Array<[string, string]> = []
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
  return {
    set(name: string, value: string) {
      const first = lines.findIndex(([n]) => same(n, name))
      if (first < 0) return void lines.push([name, value])
      lines = lines.filter(([n], i) => i === first || !same(n, name))
      lines[first] = [name, value]
    },
    append: (name: string, value: string) => void lines.push([name, value]),
    delete: (name: string) => void (lines = lines.filter(([n]) => !same(n, name))),
    get: (name: string) => lines.find(([n]) => same(n, name))?.[1],
    getAll: (name: string) => lines.filter(([n]) => same(n, name)).map(([, v]) => v),
    lines: () => lines,
  }
}

let seed = 9
const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)

for (const names of [4, 40, 400]) {
  t.test(`${names} distinct names`, async (t) => {
    const list = new HeaderList(['Host', 'a', 'X-0', 'b'], true)
    const m = model()
    m.append('Host', 'a')
    m.append('X-0', 'b')
    let mismatches = 0
    for (let step = 0; step < 5000; step++) {
      const name = `${random(2) === 0 ? 'x' : 'X'}-${random(names)}`
      const value = String(step)
      switch (random(6)) {
        case 0: list.set(name, value); m.set(name, value); break
        case 1: list.append(name, value); m.append(name, value); break
        case 2: list.delete(name); m.delete(name); break
        case 3: if (list.get(name) !== m.get(name)) mismatches++; break
        case 4: if (JSON.stringify(list.getAll(name)) !== JSON.stringify(m.getAll(name))) mismatches++; break
        case 5: if (list.size !== m.lines().length) mismatches++; break
      }
      if (step % 997 === 0) t.strictSame([...list], m.lines(), `lines in order at step ${step}`)
    }
    t.equal(mismatches, 0, 'get, getAll and size agree with the model')
    t.strictSame([...list], m.lines(), 'the same lines in the same order')
    t.equal(list.raw.length, 2 * m.lines().length, 'raw holds no deleted lines')
  })
}

t.test('a borrowed array (a request rawHeaders) is never changed', async (t) => {
  const raw = Array.from({ length: 100 }, (_, i) => [`x-${i % 30}`, String(i)]).flat()
  const copy = raw.slice()
  const list = new HeaderList(raw, true)
  for (let i = 0; i < 30; i++) i % 2 === 0 ? list.delete(`X-${i}`) : list.set(`x-${i}`, 'new')
  t.strictSame(raw, copy)
  t.equal(list.size, 15, 'one line per odd name left')
  t.equal(list.get('x-1'), 'new')
})
