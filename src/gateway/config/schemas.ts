// JSON Schemas of APISIX's objects (apisix-config.md §1, from apisix/schema_def.lua), with
// APISIX's field names and defaults. Every object forbids unknown fields, as APISIX does.
const id = {
  type: ['string', 'integer'],
  if: { type: 'integer' },
  then: { minimum: 1 },
  else: { minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_.]+$' },
} as const
const name = { type: 'string', minLength: 1, maxLength: 256 } as const
const desc = { type: 'string', maxLength: 256 } as const
const labels = {
  type: 'object',
  additionalProperties: { type: 'string', pattern: '^\\S+$', minLength: 1, maxLength: 256 },
} as const
const time = { type: 'integer' } as const
const host = { type: 'string', pattern: '^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$' } as const
// The address form is checked by the IP matcher when the router is built (it names the entry).
const remoteAddr = { type: 'string', minLength: 1 } as const
const timeout = {
  type: 'object',
  properties: {
    connect: { type: 'number', exclusiveMinimum: 0 },
    send: { type: 'number', exclusiveMinimum: 0 },
    read: { type: 'number', exclusiveMinimum: 0 },
  },
  required: ['connect', 'send', 'read'],
  additionalProperties: false,
} as const
export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE', 'PURGE'] as const
const plugins = { type: 'object' } as const
const common = { id, name, desc, labels, create_time: time, update_time: time } as const

const nodeArrayItem = {
  type: 'object',
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    weight: { type: 'integer', minimum: 0 },
    priority: { type: 'integer', default: 0 },
    metadata: { type: 'object' },
  },
  required: ['host', 'weight'],
} as const

export const upstreamSchema = {
  type: 'object',
  properties: {
    ...common,
    nodes: {
      anyOf: [
        { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
        { type: 'array', items: nodeArrayItem },
      ],
    },
    service_name: { type: 'string', minLength: 1, maxLength: 256 },
    discovery_type: { type: 'string' },
    discovery_args: { type: 'object' },
    type: { type: 'string', default: 'roundrobin' },
    hash_on: { enum: ['vars', 'header', 'cookie', 'consumer', 'vars_combinations'], default: 'vars' },
    key: { type: 'string' },
    scheme: { enum: ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'udp', 'kafka'], default: 'http' },
    pass_host: { enum: ['pass', 'node', 'rewrite'], default: 'pass' },
    upstream_host: host,
    retries: { type: 'integer', minimum: 0 },
    retry_timeout: { type: 'number', minimum: 0 },
    timeout,
    keepalive_pool: {
      type: 'object',
      properties: {
        size: { type: 'integer', minimum: 1, default: 320 },
        idle_timeout: { type: 'number', minimum: 0, default: 60 },
        requests: { type: 'integer', minimum: 1, default: 1000 },
      },
      additionalProperties: false,
    },
    tls: {
      type: 'object',
      properties: {
        client_cert: { type: 'string' },
        client_key: { type: 'string' },
        client_cert_id: id,
        verify: { type: 'boolean', default: false },
      },
    },
    checks: { type: 'object', properties: { active: { type: 'object' }, passive: { type: 'object' } } },
  },
  additionalProperties: false,
} as const

// Inline upstreams carry no id of their own in APISIX's schema, but tolerate one.
export const routeSchema = {
  type: 'object',
  properties: {
    ...common,
    uri: { type: 'string', minLength: 1, maxLength: 4096 },
    uris: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 4096 }, minItems: 1, uniqueItems: true },
    priority: { type: 'integer', default: 0 },
    methods: { type: 'array', items: { enum: METHODS }, uniqueItems: true },
    host,
    hosts: { type: 'array', items: host, minItems: 1, uniqueItems: true },
    remote_addr: remoteAddr,
    remote_addrs: { type: 'array', items: remoteAddr, minItems: 1, uniqueItems: true },
    vars: { type: 'array' },
    filter_func: { type: 'string', minLength: 10, pattern: '^function' },
    plugins,
    plugin_config_id: id,
    upstream: upstreamSchema,
    upstream_id: id,
    service_id: id,
    timeout,
    enable_websocket: { type: 'boolean' },
    status: { enum: [0, 1], default: 1 },
    script: { type: 'string', minLength: 10, maxLength: 102400 },
    script_id: id,
  },
  additionalProperties: false,
} as const

export const serviceSchema = {
  type: 'object',
  properties: {
    ...common,
    plugins,
    upstream: upstreamSchema,
    upstream_id: id,
    hosts: { type: 'array', items: host, minItems: 1, uniqueItems: true },
    enable_websocket: { type: 'boolean' },
    script: { type: 'string', minLength: 10, maxLength: 102400 },
  },
  additionalProperties: false,
} as const

export const pluginConfigSchema = {
  type: 'object',
  properties: { ...common, name: { type: 'string' }, plugins },
  required: ['id', 'plugins'],
  additionalProperties: false,
} as const

export const consumerSchema = {
  type: 'object',
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[a-zA-Z0-9_\\-]+$' },
    desc,
    labels,
    group_id: id,
    plugins,
    create_time: time,
    update_time: time,
  },
  required: ['username'],
  additionalProperties: false,
} as const

/** A credential in a standalone file: an item of `consumers:` with `id: <username>/credentials/<id>`. */
export const credentialSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[a-zA-Z0-9_\\-]+/credentials/[a-zA-Z0-9-_.]{1,64}$' },
    name,
    desc,
    labels,
    plugins: { type: 'object', maxProperties: 1 },
    create_time: time,
    update_time: time,
  },
  required: ['id'],
  additionalProperties: false,
} as const

export const consumerGroupSchema = {
  type: 'object',
  properties: { ...common, plugins },
  required: ['id', 'plugins'],
  additionalProperties: false,
} as const

export const globalRuleSchema = {
  type: 'object',
  properties: { id, plugins, create_time: time, update_time: time },
  required: ['id', 'plugins'],
  additionalProperties: false,
} as const
