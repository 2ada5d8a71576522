// Upstreams and the undici proxy (apisix-config.md §5).
export { Upstream } from './upstream.js'
export { proxyRequest, type ProxyRequestOptions, type ProxyResult } from './proxy.js'
export { hashKeyFor, type HashKeySource } from './hash-key.js'
export { upstreamModel, type UpstreamConf, type UpstreamModel, type UpstreamNode } from './model.js'
