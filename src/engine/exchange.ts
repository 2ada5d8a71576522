// One request and, later, its response, as the engine and plugins see them, whatever the
// framework. Adapters build it from the framework's request and write it back afterwards:
// the rewritten URL, headers and body go to the application; a plugin's response, or the
// response phase's result, goes to the client.
//
// Text is binary strings throughout (one char per byte), as Node presents header bytes:
// decoded paths and query arguments may hold any bytes, not only UTF-8.
import type { Pipeline, PluginInstance } from './pipeline.js'
import { parseArgs, encodeArgs, type Arg } from './args.js'
import { HeaderList } from './headers.js'
import { normalizePath } from './uri.js'
import { resolveVariable, type VariableResolver } from './variables.js'

/** Reads the whole request body once, within the configured limit. */
export interface BodySource {
  read(): Promise<Buffer | undefined>
}

export class RequestBody {
  readonly #source: BodySource | undefined
  #read: Promise<Buffer | undefined> | undefined
  #replacement: Buffer | undefined

  constructor(source: BodySource | undefined) {
    this.#source = source
  }

  /** The body (the replacement, once a runner or plugin replaced it); undefined when none. */
  read(): Promise<Buffer | undefined> {
    if (this.#replacement !== undefined) return Promise.resolve(this.#replacement)
    return (this.#read ??= this.#source?.read() ?? Promise.resolve(undefined))
  }

  /** True once something asked for the body (it must then be replayed to the application). */
  get consumed(): boolean {
    return this.#read !== undefined
  }

  /** The new body, if any: the application must receive this instead of the client's. */
  get replacement(): Buffer | undefined {
    return this.#replacement
  }

  replace(body: Buffer): void {
    this.#replacement = body
  }
}

/** A header change for the response the client will receive (Rewrite.resp_headers). */
export interface ResponseHeaderPatch {
  readonly name: string
  readonly value: string
  /** `set` replaces what the application sent; `append` adds a line. */
  readonly mode: 'set' | 'append'
}

/** The application's response, held back for the response phase. */
export interface ExchangeResponse {
  status: number
  /** As the application set them, original case. */
  headers: HeaderList
  /** The whole body; undefined when there is none. */
  body: Buffer | undefined
}

export interface ExchangeInit {
  readonly method: string
  /** The request target as received: path and optional `?query`. */
  readonly url: string
  readonly headers: HeaderList
  readonly scheme?: 'http' | 'https'
  readonly remoteAddress?: string
  readonly remotePort?: number
  readonly serverAddress?: string
  readonly serverPort?: number
  readonly body?: BodySource
  /** The application's own variables, consulted before the built-in ones. */
  readonly variables?: VariableResolver
  /** Aborts runner calls made for this request (e.g. when the client went away). */
  readonly signal?: AbortSignal
}

/** One pipeline's progress through one request. */
export interface PipelineRun {
  readonly pipeline: Pipeline
  /** The instances whose rewrite or access handler ran (a few: an array beats a Set). */
  readonly ran: PluginInstance[]
  /** Set when a branch stage chose the rest of the run: the response-phase plugins to run instead. */
  response: readonly PluginInstance[] | undefined
}

/** What the engine keeps per request; maps are made on first use (most requests need none). */
export interface EngineState {
  /** The first pipeline's run: the instances whose rewrite or access handler ran, and a branch's response list. */
  firstRun: PipelineRun | undefined
  /** The same for every further pipeline of the request (a global rule's, then a route's). */
  runs: Map<Pipeline, PipelineRun> | undefined
  /** Filter verdicts, evaluated once, when the plugin would first run. */
  filterVerdicts: Map<PluginInstance, boolean> | undefined
  /** Rewrite.resp_headers go onto the response once, whichever path sends it. */
  responsePatches: 'pending' | 'applied'
}

export class Exchange {
  readonly method: string
  readonly scheme: 'http' | 'https'
  /** `$request_uri`: the target as received; never changes. */
  readonly requestUri: string
  /** The path as received (still percent-encoded), without the query. */
  readonly rawPath: string
  readonly headers: HeaderList
  readonly remoteAddress: string
  readonly remotePort: number
  readonly serverAddress: string
  readonly serverPort: number
  readonly body: RequestBody
  /** Header changes for the client's response, in order. */
  readonly responseHeaders: ResponseHeaderPatch[] = []
  /** Set for the response phase. */
  response: ExchangeResponse | undefined
  /** Per-request state for plugins, shared by all mounts of the request. Theirs alone. */
  get ctx(): Map<string | symbol, unknown> {
    return (this.#ctx ??= new Map())
  }
  /** The engine's own per-request state (never in `ctx`, which is the plugins'). */
  readonly engine: EngineState = { firstRun: undefined, runs: undefined, filterVerdicts: undefined, responsePatches: 'pending' }
  /** The route being run: `route_id` and `route_name`. */
  routeId: string | undefined
  routeName: string | undefined
  /** `$upstream_uri`: set by a Rewrite's path (escaped, query excluded); undefined until then. */
  upstreamUri: string | undefined
  /** `$upstream_host`: set by a Rewrite of the `host` header; undefined means the Host header. */
  upstreamHost: string | undefined
  readonly userVariables: VariableResolver | undefined
  readonly signal: AbortSignal | undefined
  #ctx: Map<string | symbol, unknown> | undefined
  #query: string
  #args: Arg[] | undefined
  #uri: string | undefined

  constructor(init: ExchangeInit) {
    this.method = init.method
    this.scheme = init.scheme ?? 'http'
    this.requestUri = init.url
    const q = init.url.indexOf('?')
    this.rawPath = q < 0 ? init.url : init.url.slice(0, q)
    this.#query = q < 0 ? '' : init.url.slice(q + 1)
    this.headers = init.headers
    this.remoteAddress = init.remoteAddress ?? ''
    this.remotePort = init.remotePort ?? 0
    this.serverAddress = init.serverAddress ?? ''
    this.serverPort = init.serverPort ?? 0
    this.body = new RequestBody(init.body)
    this.userVariables = init.variables
    this.signal = init.signal
  }

  /** `$uri`: the path as received, decoded and normalised. */
  get uri(): string {
    return (this.#uri ??= normalizePath(this.rawPath))
  }

  /** `$args`: the current query string (without `?`). */
  get query(): string {
    return this.#query
  }

  set query(query: string) {
    this.#query = query
    this.#args = undefined
  }

  /** The current query arguments, decoded. */
  get args(): readonly Arg[] {
    return (this.#args ??= parseArgs(this.#query))
  }

  set args(args: readonly Arg[]) {
    this.#args = [...args]
    this.#query = encodeArgs(args)
  }

  /** The URL the application should see now: the rewritten path or the original, and the query. */
  get url(): string {
    const path = this.upstreamUri ?? this.rawPath
    return this.#query === '' ? path : `${path}?${this.#query}`
  }

  /** A variable as APISIX names them (protocol.md §13); undefined when it does not exist. */
  variable(name: string): unknown {
    return resolveVariable(this, name)
  }
}
