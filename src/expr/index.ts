// `_meta.filter`: lua-resty-expr 1.3.2 rules, compiled once and evaluated per request.
//
// Values are compared as nginx sees them. Strings are bytes: a variable's string should be
// one char per byte (latin1), which is what Node gives for header values, and a rule's
// strings are turned into their UTF-8 bytes when compiled, so "é" in a rule equals the two
// bytes C3 A9 received on the wire. `undefined` is nil (a missing variable); `null` is a
// JSON null value (ngx.null), which is not nil.
//
// Where this differs from APISIX on purpose:
// - Rules that make the Lua code raise (rather than return a message) are compile errors:
//   a non-string operator, a non-array element in a group, a variable name that is not a
//   string, a non-string `~~`/`~*` pattern, a non-string `ipmatch` entry, a top-level
//   value that is not an array (APISIX's schema refuses it before lua-resty-expr).
// - An invalid regular expression is a compile error (APISIX accepts it and the match is
//   just false at run time), and so is a PCRE construct JavaScript cannot reproduce
//   exactly (see pcre.ts).
// - An `ipmatch` prefix length must be a whole number within the family's range;
//   lua-resty-ipmatcher reads `10.0.0.0/abc` or `10.0.0.0/` as /32 and `/33` as a bit shift.
// - `ipmatch` on a variable that is not a string is false (LuaJIT's FFI raises).
// - Lua prints a table as `table: 0x…` with its address; `~~` on a table sees a fixed
//   `table: 0x00000000`.
// - PCRE's JIT gives up on runaway backtracking (and the match is false); JavaScript has no
//   such limit, so a pathological pattern costs its full time.
export { compileFilter } from './compile.js'
export type { CompiledFilter, FilterRule, FilterVariables } from './types.js'
