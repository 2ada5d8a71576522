// The TypeScript runner's no-op plugin, for the RPC benchmark.
export default [{ name: 'noop', requestFilter() {} }]
