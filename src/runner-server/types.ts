// The plugin API of the TypeScript Plugin Runner: what a runner plugin is, and what it sees
// and changes in each phase. The objects behind these interfaces live in request.ts and
// response.ts; the wire mapping of every method is described next to it (protocol.md §4–5).
//
// Text on the wire is bytes. Header names and values, the path, query arguments and
// variables reach plugins as *binary strings* (one char per byte, latin1), which is what
// node:http does with header bytes too: ASCII reads as usual, and nothing is lost when a
// value is not UTF-8. Use `binaryToUtf8()` to read UTF-8 text out of one, `utf8ToBinary()`
// to put UTF-8 text into one. Conf values are the exception: they are configuration text,
// decoded as UTF-8 before `parseConf` sees them. Bodies are Buffers; a string given as a
// body is encoded as UTF-8.

type MaybePromise<T> = T | Promise<T>

/** A body as plugins give it: a string (sent as UTF-8) or bytes. */
export type BodyInput = string | Uint8Array

/** A header value as plugins give it: a binary string, or bytes. */
export type HeaderValue = string | Uint8Array

/** Header lookups, case-insensitive. Names and values are binary strings. */
export interface ReadonlyHeaders extends Iterable<[name: string, value: string]> {
  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined
  /** Every value of `name`, in order. */
  getAll(name: string): string[]
  has(name: string): boolean
  /** One [name, value] pair per header line, in order, names in the case they arrived. */
  entries(): Array<[name: string, value: string]>
  /** Number of header lines. */
  readonly size: number
}

/**
 * The request headers the gateway sends upstream. The protocol can *set* a request header
 * (one value, replacing all others) or delete it, nothing else: there is no `append`.
 */
export interface RequestHeaders extends ReadonlyHeaders {
  /** Replaces every value of `name` with this one. */
  set(name: string, value: HeaderValue): this
  delete(name: string): this
}

/** Response headers: set (replace), append (one more line) and delete. */
export interface ResponseHeaders extends ReadonlyHeaders {
  /** Replaces every value of `name` with this one. */
  set(name: string, value: HeaderValue): this
  /** Adds one more line for `name`. */
  append(name: string, value: HeaderValue): this
  delete(name: string): this
}

/**
 * Query arguments, case-sensitive, multi-valued. A bare key (`?debug`) has the value
 * `null`, an empty one (`?debug=`) has `''`; a missing key gives `undefined`.
 */
export interface RequestArgs extends Iterable<[name: string, value: string | null]> {
  /** The first value of `name`: `null` for a bare key, `undefined` when absent. */
  get(name: string): string | null | undefined
  getAll(name: string): Array<string | null>
  has(name: string): boolean
  entries(): Array<[name: string, value: string | null]>
  /** Replaces every value of `name` with this one. */
  set(name: string, value: string): this
  /** Adds one more value for `name`. */
  append(name: string, value: string): this
  delete(name: string): this
  readonly size: number
}

/** What both phases can ask the gateway during a call (ExtraInfo, protocol.md §4.3). */
export interface GatewayQueries {
  /** The call id the gateway gave (for logs). */
  readonly id: number
  /**
   * A gateway variable (`remote_addr`, `arg_x`, `route_id`, … protocol.md §13) as a binary
   * string; undefined when the gateway has no such value. One ExtraInfo round trip per
   * distinct name and call; answers are cached for the call.
   */
  var(name: string): Promise<string | undefined>
  /** Aborted when the gateway's connection closes before the call is answered. */
  readonly signal: AbortSignal
}

/** The request as the gateway describes it, and the changes a plugin makes to it (Rewrite). */
export interface RunnerRequest extends GatewayQueries {
  /** `GET`, `POST`, … (the protocol's method names). */
  readonly method: string
  /**
   * The decoded path without the query, as a binary string. Setting it rewrites the
   * upstream path (the gateway percent-encodes it again; the query is kept).
   */
  path: string
  /** The original query arguments; changes are sent to the gateway. */
  readonly args: RequestArgs
  /** The request headers, names lower-case; changes are sent to the gateway. */
  readonly headers: RequestHeaders
  /** Client address in text form (`127.0.0.1`, `fe80::2a`); undefined if the gateway sent none. */
  readonly srcIp: string | undefined
  /** Client address as the gateway sent it: 4 or 16 bytes. */
  readonly srcIpBytes: Buffer
  /**
   * Headers to add to the response the client will eventually get (Rewrite.resp_headers).
   * Starts empty. The gateway ignores framing and content headers here (Content-Type,
   * Content-Length, Location, …, protocol.md §5.3).
   */
  readonly respHeaders: ResponseHeaders
  /**
   * The whole request body (ExtraInfo ReqBody), asked only when called, cached for the
   * call; undefined when the request has none.
   */
  body(): Promise<Buffer | undefined>
  /**
   * Replaces the body sent upstream. An empty body cannot be expressed on the wire (it
   * means "keep the body") and is ignored with a warning.
   */
  setBody(body: BodyInput): void
}

/**
 * The answer a plugin gives instead of letting the request go on (Stop). Using it at all
 * (a status, a header, a body) stops the request with that answer, status 200 unless set.
 */
export interface StopResponse {
  /** The status set so far; 0 until `setStatus`. */
  readonly status: number
  setStatus(status: number): this
  /** Starts empty; the gateway lower-cases the names. */
  readonly headers: ResponseHeaders
  /** Appends to the body. */
  write(chunk: BodyInput): this
  /** Replaces the body. */
  setBody(body: BodyInput): this
  /** True once the plugin used this response: the request stops here. */
  readonly stopped: boolean
}

/**
 * The upstream's response in the response phase (HTTPRespCall), and the changes a plugin
 * makes to it. The headers start as the upstream's; whenever anything is changed, the
 * whole list is sent back (the gateway replaces its list with it, protocol.md §4.4), so
 * what a plugin sees here is what the client gets.
 */
export interface RunnerResponse extends GatewayQueries {
  /** The status: the upstream's, or the last one set. */
  readonly status: number
  setStatus(status: number): this
  readonly headers: ResponseHeaders
  /**
   * The upstream's whole body (ExtraInfo RespBody), asked only when called, cached for
   * the call; undefined when there is none.
   */
  body(): Promise<Buffer | undefined>
  /** Replaces the body. An empty body means "keep the upstream's" on the wire. */
  setBody(body: BodyInput): this
  /** Appends to the replacement body (which starts empty, not as the upstream's). */
  write(chunk: BodyInput): this
}

/**
 * A runner plugin. `name` is what gateway configs refer to
 * (`{"name": "auth", "value": "{...}"}`); `C` is the parsed configuration.
 */
export interface RunnerPlugin<C = unknown> {
  readonly name: string
  /**
   * Parses a conf value (UTF-8 text) once per PrepareConf. Default: JSON.parse, and an
   * empty (or blank) value gives undefined. A throw leaves this plugin out of the token's
   * plugin list, as the Go runner does.
   */
  parseConf?(value: string): MaybePromise<C>
  /**
   * The request phase (HTTPReqCall). Change `request` to rewrite it, or use `response` to
   * answer the client now; the first plugin that stops ends the chain.
   */
  requestFilter?(conf: C, request: RunnerRequest, response: StopResponse): MaybePromise<void>
  /** The response phase (HTTPRespCall). Every plugin with one runs, in conf order. */
  responseFilter?(conf: C, response: RunnerResponse): MaybePromise<void>
}

/** Plugins for createRunner: an array, or an object whose values are plugins. */
export type RunnerPlugins = ReadonlyArray<RunnerPlugin<unknown>> | Readonly<Record<string, RunnerPlugin<unknown>>>

/** Types a plugin's conf from its parseConf: `definePlugin({ name, parseConf, requestFilter })`. */
export function definePlugin<C = unknown>(plugin: RunnerPlugin<C>): RunnerPlugin<C> {
  return plugin
}
