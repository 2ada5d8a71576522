// The TypeScript runner's plugins for the benchmarks: a no-op, and one that reads the
// request body (ExtraInfo ReqBody), for the held-body memory figure. (The Go runner v0.5.0
// reads an ExtraInfo answer with a single read(2), so it fails on bodies larger than one
// socket read: internal/http/request.go, askExtraInfo.)
export default [
  { name: 'noop', requestFilter() {} },
  { name: 'read-body', async requestFilter(_conf, request) { await request.body() } },
]
