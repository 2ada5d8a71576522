/** lua-resty-expr's operators (case-insensitive: `IN`, `HAS`, `IPMATCH` too). */
export type FilterOperator = '==' | '~=' | '>' | '>=' | '<' | '<=' | '~~' | '~*' | 'in' | 'has' | 'ipmatch' | 'IN' | 'HAS' | 'IPMATCH'

/** The logical groups (case-insensitive: upper-cased before matching). */
export type FilterLogic = 'AND' | 'OR' | '!AND' | '!OR' | 'and' | 'or' | '!and' | '!or'

/** A right-hand value: JSON scalars, or an array of them (`in`, `ipmatch`). */
export type FilterValue = string | number | boolean | null | readonly FilterValue[]

/** `[var, op, value]`, `[var, "!", op, value]`, or the legacy `[var, value]` (== the lower-cased value). */
export type FilterExpression =
  | readonly [variable: string, operator: FilterOperator, value: FilterValue]
  | readonly [variable: string, not: '!', operator: FilterOperator, value: FilterValue]
  | readonly [variable: string, value: string | number]

/** `["OR", a, b, ...]`: at least two operands. */
export type FilterGroup = readonly [logic: FilterLogic, first: FilterElement, second: FilterElement, ...rest: FilterElement[]]

/** A list of elements: their implicit AND. */
export type FilterList = readonly [first: FilterElement, ...rest: FilterElement[]]

export type FilterElement = FilterExpression | FilterGroup | FilterList

/**
 * A lua-resty-expr rule, as found in `_meta.filter` (protocol.md §12): empty (always true),
 * a logical group, or a list of expressions and groups. A rule held in a variable needs
 * `as const` (or this type) to keep its tuples; compileFilter checks any value at run time.
 */
export type FilterRule = readonly [] | FilterGroup | FilterList

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
