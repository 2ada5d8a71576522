// registerMetrics with the real prom-client: scrape the text exposition after real calls
// through a real TypeScript runner, parse it, and compare it with ext.stats().
import { Registry, type OpenMetricsContentType } from 'prom-client'
import t from 'tap'
import { registerMetrics, METRIC_NAMES } from '../../src/prometheus/index.js'
import { LATENCY_BUCKETS_MS } from '../../src/diagnostics/histogram.js'
import { get, setup } from '../diagnostics/support.js'

t.setTimeout(30_000)

interface Family {
  help: string
  type: string
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>
}

/** The Prometheus text format (0.0.4), strictly: every sample belongs to a declared family. */
function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  let family: Family | undefined
  let familyName = ''
  for (const line of text.split('\n')) {
    if (line === '') continue
    const help = /^# HELP (\S+) (.*)$/.exec(line)
    if (help) {
      familyName = help[1]!
      family = { help: help[2]!, type: '', samples: [] }
      families.set(familyName, family)
      continue
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) {
      if (type[1] !== familyName) throw new Error(`TYPE without HELP: ${line}`)
      family!.type = type[2]!
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!sample) throw new Error(`not a sample line: ${line}`)
    const [, name, labelText, value] = sample
    const suffixes = family?.type === 'histogram' ? ['_bucket', '_sum', '_count'] : ['']
    if (family === undefined || !suffixes.some((suffix) => name === familyName + suffix)) throw new Error(`sample outside its family: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, val] of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = val!
    family.samples.push({ name: name!, labels, value: value === '+Inf' ? Infinity : Number(value) })
  }
  return families
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? families.get(name)
  return family?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

t.test('the exposition after real calls matches ext.stats()', async (t) => {
  const { ext, serve, restartRunner } = await setup(t)
  const registry = new Registry()
  registerMetrics(ext, { registry })
  const all = await serve({
    id: 'all',
    plugins: {
      'ext-plugin-pre-req': { conf: [{ name: 'ask', value: '{}' }, { name: 'deny', value: '{}' }] },
      'ext-plugin-post-resp': { conf: [{ name: 'stamp', value: '{}' }] },
    },
  })
  const failing = await serve({ id: 'failing', plugins: { 'ext-plugin-post-req': { conf: [{ name: 'boom', value: '{}' }] } } })
  const degraded = await serve({ id: 'degraded', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'boom', value: '{}' }], allow_degradation: true } } })
  for (let i = 0; i < 4; i++) t.equal((await get(all)).status, 200)
  t.equal((await get(all, { 'x-deny': '1' })).status, 403)
  t.equal((await get(failing)).status, 503)
  t.equal((await get(degraded)).status, 200)
  await restartRunner()
  t.equal((await get(all)).status, 200)

  const text = await registry.metrics()
  const families = parse(text)
  const stats = ext.stats()
  const p = 'apisix_ext_plugin_'
  t.same([...families.keys()].sort(), METRIC_NAMES.map((name) => p + name).sort(), 'every metric, nothing else')
  for (const [name, family] of families) {
    t.equal(family.type, name.endsWith('_total') ? 'counter' : name.endsWith('_seconds') ? 'histogram' : 'gauge', `${name}: its type`)
    t.ok(family.help.length > 10, `${name}: a help text`)
  }

  t.equal(value(families, p + 'runner_calls_total', { phase: 'rewrite', outcome: 'ok' }), 5)
  t.equal(value(families, p + 'runner_calls_total', { phase: 'rewrite', outcome: 'stop' }), 1)
  t.equal(value(families, p + 'runner_calls_total', { phase: 'rewrite', outcome: 'EXT_ERR_RUNNER_REPLIED_ERROR' }), 1)
  t.equal(value(families, p + 'runner_calls_total', { phase: 'access', outcome: 'EXT_ERR_RUNNER_REPLIED_ERROR' }), 1)
  t.equal(value(families, p + 'runner_calls_total', { phase: 'access', outcome: 'ok' }), 0, 'known outcomes are exposed at 0')
  t.equal(value(families, p + 'runner_calls_total', { phase: 'response', outcome: 'rewrite' }), 5)
  for (const phase of ['rewrite', 'access', 'response'] as const) {
    for (const [outcome, count] of Object.entries(stats.calls[phase])) {
      t.equal(value(families, p + 'runner_calls_total', { phase, outcome }), count, `${phase} ${outcome}`)
    }
    // the histogram, in seconds, cumulative, +Inf equal to the count
    const buckets = families.get(p + 'runner_latency_seconds')!.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.phase === phase)
    t.same(buckets.map((b) => b.labels.le), [...LATENCY_BUCKETS_MS.map((ms) => String(ms / 1000)), '+Inf'])
    t.same(buckets.map((b) => b.value), stats.latency[phase].buckets.map((b) => b.count))
    t.equal(value(families, p + 'runner_latency_seconds_count', { phase }), stats.latency[phase].count)
    t.equal(buckets.at(-1)!.value, stats.latency[phase].count)
    t.ok(Math.abs(value(families, p + 'runner_latency_seconds_sum', { phase })! - stats.latency[phase].sum / 1000) < 1e-9, 'sum in seconds')
  }
  t.equal(value(families, p + 'runner_latency_seconds_count', { phase: 'rewrite' }), 7)
  t.equal(value(families, p + 'prepare_conf_total', { result: 'ok' }), 6, "all's two confs, failing, degraded, then all's two again: the retry flushed every token")
  t.equal(value(families, p + 'prepare_conf_total', { result: 'error' }), 0)
  t.equal(value(families, p + 'token_cache_hits_total'), stats.tokenCache.hits)
  t.equal(value(families, p + 'token_cache_misses_total'), 6)
  t.equal(value(families, p + 'token_cache_entries'), stats.tokenCache.size)
  t.equal(value(families, p + 'runner_retries_total', { reason: 'conf_token_not_found' }), 1)
  t.equal(value(families, p + 'runner_retries_total', { reason: 'stale_connection' }), stats.retries.staleConnection)
  t.equal(value(families, p + 'degradations_total'), 1)
  t.equal(value(families, p + 'runner_unavailable_total'), 1)
  t.equal(value(families, p + 'runner_respawns_total'), 0)
  t.equal(value(families, p + 'runner_connections', { state: 'active' }), 0)
  t.equal(value(families, p + 'runner_connections', { state: 'idle' }), stats.connections.idle)
  t.equal(value(families, p + 'runner_connections', { state: 'queued' }), 0)
  t.equal(value(families, p + 'runner_connections_opened_total'), stats.connections.opened)
  t.equal(value(families, p + 'runner_calls_in_flight'), 0)

  t.equal(await registry.metrics(), text, 'a second scrape without calls counts nothing twice')
  t.equal((await get(all)).status, 200)
  const again = parse(await registry.metrics())
  t.equal(value(again, p + 'runner_calls_total', { phase: 'rewrite', outcome: 'ok' }), 6, 'new calls show at the next scrape')
  t.equal(value(again, p + 'runner_latency_seconds_count', { phase: 'response' }), 6)
})

t.test('prefix, unregistering, OpenMetrics', async (t) => {
  const { ext, serve } = await setup(t)
  const origin = await serve({ id: 'one', plugins: { 'ext-plugin-pre-req': { conf: [{ name: 'tag', value: '{}' }] } } })
  t.equal((await get(origin)).status, 200)
  const registry = new Registry()
  const unregister = registerMetrics(ext, { registry, prefix: 'myapp_runner_' })
  const families = parse(await registry.metrics())
  t.equal(value(families, 'myapp_runner_runner_calls_total', { phase: 'rewrite', outcome: 'rewrite' }), 1)
  t.throws(() => registerMetrics(ext, { registry, prefix: 'myapp_runner_' }), /already been registered/, 'names are unique per registry')
  unregister()
  t.equal(await registry.metrics(), '\n', 'all removed')

  const open = new Registry<OpenMetricsContentType>()
  open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
  registerMetrics(ext, { registry: open })
  const text = await open.metrics()
  t.match(text, /^apisix_ext_plugin_runner_calls_total\{phase="rewrite",outcome="rewrite"\} 1$/m)
  t.match(text, /^apisix_ext_plugin_runner_latency_seconds_bucket\{le="\+Inf",phase="rewrite"\} 1$/m)
  t.match(text, /# EOF\n$/)
  t.notMatch(text, /_total_total/)
})
