/** A lua-resty-expr rule, as found in `_meta.filter` (a JSON array). */
export type FilterRule = readonly unknown[]

/**
 * Where a rule's variables come from: a plain object, or a function the engine passes to
 * resolve a name lazily (it is called only for the variables evaluation reaches).
 *
 * Values are read as Lua would see them: `undefined` is nil (a missing variable), `null`
 * is JSON null (`ngx.null`, a value that is not nil), strings are compared byte for byte
 * (one char per byte, as Node gives header values), numbers, booleans and arrays as is.
 */
export type FilterVariables = Readonly<Record<string, unknown>> | ((name: string) => unknown)

export interface CompiledFilter {
  /** true when the rule matches these variables. Exceptions thrown by a variables function propagate. */
  evaluate(vars: FilterVariables): boolean
}
