// PATCH (apisix-config.md §8, APISIX core.table merge/patch): a body merged into the stored
// object — objects recursively, arrays and scalars replaced, `null` removing a key — or, with
// a sub-path (`/routes/1/upstream/nodes`), the body put in place of that one sub-tree.

type Obj = Record<string, unknown>

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `target` with `patch` merged in; neither argument is changed. */
export function mergePatch(target: Readonly<Obj>, patch: Readonly<Obj>): Obj {
  const out: Obj = { ...target }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else if (isObject(value)) out[key] = mergePatch(isObject(out[key]) ? out[key] : {}, value)
    else out[key] = value
  }
  return out
}

export type SubPathResult = { readonly value: Obj; readonly error?: undefined } | { readonly value?: undefined; readonly error: string }

/**
 * `target` with `value` at `path` (segments joined by `/`); missing objects on the way are
 * created, a scalar or an array on the way is APISIX's `invalid sub-path: /<segments so far>`.
 * A `null` value removes the key.
 */
export function patchSubPath(target: Readonly<Obj>, path: string, value: unknown): SubPathResult {
  const segments = path.split('/')
  const root: Obj = structuredClone(target) as Obj
  let node: Obj = root
  for (let i = 0; i < segments.length - 1; i++) {
    const name = segments[i]!
    if (node[name] === undefined) node[name] = {}
    const next = node[name]
    if (!isObject(next)) return { error: `invalid sub-path: /${segments.slice(0, i + 1).join('/')}` }
    node = next
  }
  const last = segments[segments.length - 1]!
  if (last === '') {
    if (!isObject(value)) return { error: `invalid sub-path: /${path}` }
    return { value: structuredClone(value) }
  }
  if (value === null) delete node[last]
  else node[last] = structuredClone(value)
  return { value: root }
}
