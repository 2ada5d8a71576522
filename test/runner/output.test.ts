// Runner output at its own level: the level word of each runner's format (sample lines
// captured from the real runners), stack traces kept with their entry, and the real Go,
// Java and TypeScript runners (and Python's logging module, as the Python runner sets it
// up) logged live through RunnerProcess.
import { spawnSync } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { RunnerClient } from '../../src/rpc/client.js'
import { lineLevel, logOutput, OutputTail } from '../../src/runner/output.js'
import { stderrLogger } from '../../src/runner-server/cli.js'
import { goRunner, javaRunner, startRunner, tsRunner, whenBuilt } from '../helpers/interop.js'
import { recordingLogger, type RecordingLogger } from '../helpers/logger.js'

t.setTimeout(60_000)

// Captured from test/interop/go-runner (apisix-go-plugin-runner v0.5.0, zap's console encoder).
const GO = {
  info: '2026-12-02T06:53:55.318Z\tINFO\tplugin/plugin.go:73\tregister plugin stop',
  warn: '2026-12-02T06:53:55.321Z\tWARN\tserver/server.go:200\tlistening to /tmp/apisix-ext-plugin-woDSse/runner.sock',
  error: '2026-12-02T06:53:55.351Z\tERROR\tplugin/conf.go:103\tfailed to parse configuration for plugin fail, configuration: {"mode":"bogus"}, err: unknown mode "bogus"',
  debug: '2026-12-02T06:53:55.351Z\tDEBUG\tserver/server.go:131\treceive rpc type: 1 data length: 160',
}
// Captured from test/interop/java-runner (Java Plugin Runner 0.4.0, Spring Boot 2.6.8's pattern).
const JAVA = {
  info: '2026-12-02 06:49:29.640  INFO 13988 --- [           main] i.j.JavaRunner                           : Starting JavaRunner using Java 17.0.15 on vm with PID 13988',
  warn: '2026-12-02 06:49:29.913  WARN 13988 --- [           main] o.a.a.p.r.s.ApplicationRunner            : java runner is listening on the socket file: /tmp/cap/j.sock',
  debug: '2026-12-02 06:53:57.333 DEBUG 20870 --- [           main] i.j.JavaRunner                           : Running with Spring Boot v2.6.8, Spring v5.3.20',
  error: '2026-12-02 06:55:19.339 ERROR 23950 --- [ntLoopGroup-2-1] o.a.a.p.r.h.ExceptionCaughtHandler       : handle request error: ',
}
// The Python runner's Logger: logging.Formatter("%(asctime)s - %(levelname)s - %(message)s").
const PYTHON = {
  debug: '2026-12-02 06:53:32,491 - DEBUG - d',
  info: '2026-12-02 06:53:32,491 - INFO - request type:1, len:80',
  warn: '2026-12-02 06:53:32,491 - WARNING - w',
  error: '2026-12-02 06:53:32,491 - ERROR - connection error: (32, \'Broken pipe\')',
  critical: '2026-12-02 06:53:32,491 - CRITICAL - c',
}

t.test('the level word of each runner format', async (t) => {
  for (const [name, samples] of [['go', GO], ['java', JAVA], ['python', PYTHON]] as const) {
    for (const [level, line] of Object.entries(samples)) {
      t.equal(lineLevel(line), level === 'critical' ? 'error' : level, `${name} ${level}`)
    }
  }
  // our own runner's stderr, written by its real logger
  const written: string[] = []
  const logger = stderrLogger('debug', (text) => written.push(text.trimEnd()))
  logger.debug({}, 'receive rpc type: 1')
  logger.info({ socket: '/tmp/r.sock' }, 'listening on unix:/tmp/r.sock')
  logger.warn({ plugin: 'nope' }, "can't find plugin nope, skip")
  logger.error({}, 'RPC_HTTP_REQ_CALL: boom')
  t.same(written.map(lineLevel), ['debug', 'info', 'warn', 'error'], written.join('\n'))
  t.equal(lineLevel('{"level":"warn","ts":1733122435.1,"msg":"listening to /tmp/r.sock"}'), 'warn', "zap's JSON encoder")
  t.equal(lineLevel('{"level":50,"time":1733122435100,"msg":"boom"}'), 'error', 'pino numbers')
  t.equal(lineLevel('2024-01-01T00:00:00.000+08:00 [ERROR] x'), 'error', 'a zone and a bracketed word')
  t.equal(lineLevel('Error: Cannot find module ./plugins.js'), 'error', "Node's own crash")
  for (const plain of ['listening on unix:/tmp/r.sock', 'Debugger listening on ws://127.0.0.1:9229', 'fatalistic', '', 'Bye', 'INFORMATION', '2024/01/01 00:00:00 started']) {
    t.equal(lineLevel(plain), undefined, `no level: ${JSON.stringify(plain)}`)
  }
})

function feed(chunks: string[]): RecordingLogger {
  const logger = recordingLogger()
  const stream = new PassThrough()
  logOutput(stream, 42, logger, new OutputTail(5))
  for (const chunk of chunks) stream.write(chunk)
  stream.end()
  return logger
}

t.test('one entry per line, prefixed with the pid; stack traces keep their entry level', async (t) => {
  const logger = feed([
    `${GO.warn}\n${GO.info.slice(0, 20)}`, // a line split across writes
    `${GO.info.slice(20)}\n`,
    // zap writes an error and its stack trace at once
    `${GO.error}\ngithub.com/apache/apisix-go-plugin-runner/internal/plugin.(*ConfCache).Set\n\t/root/go/pkg/mod/github.com/apache/apisix-go-plugin-runner@v0.5.0/internal/plugin/conf.go:103\n`,
    `${JAVA.error}\njava.lang.IllegalStateException: boom\n\tat interop.javarunner.Plugins$Fail.filter(Plugins.java:10)\nCaused by: java.io.IOException: x\n\t... 3 more\n`,
    'plain line\r\n',
    'bye',
  ])
  await sleep(10)
  t.same(
    logger.entries.map((e) => e.level),
    ['warn', 'info', 'error', 'error', 'error', 'error', 'error', 'error', 'error', 'error', 'info', 'info'],
  )
  t.ok(logger.entries.every((e) => e.message.startsWith('runner 42: ') && (e.fields as { pid: number }).pid === 42))
  t.equal(logger.entries[1]!.message, `runner 42: ${GO.info}`, 'the split line rejoined')
  t.equal(logger.entries.at(-2)!.message, 'runner 42: plain line', 'CR LF')
})

t.test('the tail is bounded', async (t) => {
  const tail = new OutputTail(3)
  for (let i = 0; i < 10; i++) tail.push(`line ${i}`)
  t.same(tail.lines(), ['line 7', 'line 8', 'line 9'])
})

/** Waits until `logger` has logged `level` with `text` from the runner. */
async function logged(logger: RecordingLogger, level: 'debug' | 'info' | 'warn' | 'error', text: RegExp, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (!logger.has(level, text)) {
    if (Date.now() > end) return false
    await sleep(20)
  }
  return true
}

const request: Parameters<RunnerClient['httpReqCall']>[1] = { method: 1, path: '/', headers: [], args: [], srcIp: new Uint8Array([127, 0, 0, 1]) }
const badConf = { key: 'route#1#ext-plugin-pre-req#1', conf: [{ name: 'fail', value: '{"mode":"bogus"}' }, { name: 'no-such-plugin', value: '' }] }

t.test('the Go runner, live', whenBuilt(goRunner), async (t) => {
  const logger = recordingLogger()
  const { client, process } = await startRunner(t, goRunner, { process: { logger, env: { GO_RUNNER_LOG_LEVEL: 'info' } } })
  await client.prepareConf(badConf).catch(() => {})
  const pid = process.pid!
  t.ok(await logged(logger, 'info', new RegExp(`^runner ${pid}: \\S+\\tINFO\\t.*register plugin stop`)), 'INFO at info')
  t.ok(await logged(logger, 'warn', new RegExp(`^runner ${pid}: \\S+\\tWARN\\t.*listening to `)), 'WARN at warn')
  t.ok(await logged(logger, 'error', /\tERROR\t.*failed to parse configuration for plugin fail/), 'ERROR at error')
  t.ok(await logged(logger, 'error', /^runner \d+: \t\/.*conf\.go:\d+$/), 'its stack trace at error too')
  t.ok(await logged(logger, 'warn', /\tWARN\t.*can't find plugin no-such-plugin/))
  t.notOk(logger.entries.some((e) => e.level === 'info' && /\t(WARN|ERROR)\t/.test(e.message)))
})

t.test('the Java runner, live', whenBuilt(javaRunner), async (t) => {
  const logger = recordingLogger()
  const { client } = await startRunner(t, javaRunner, { process: { logger, env: { JAVA_RUNNER_LOG_LEVEL: 'info' } } })
  await client.prepareConf(badConf).catch(() => {})
  // the fail plugin's "panic" throws in the filter
  await client.httpReqCall({ key: 'route#1#ext-plugin-pre-req#2', conf: [{ name: 'fail', value: '{"mode":"panic"}' }] }, request).catch(() => {})
  t.ok(await logged(logger, 'info', /  INFO \d+ --- \[.*Starting JavaRunner/), 'INFO at info')
  t.ok(await logged(logger, 'warn', /  WARN \d+ --- \[.*listening on the socket file/), 'WARN at warn')
  t.ok(await logged(logger, 'warn', /  WARN \d+ --- \[.*receive undefined filter: no-such-plugin/))
  t.ok(await logged(logger, 'error', / ERROR \d+ --- \[.*handle request error/), 'ERROR at error')
  t.notOk(logger.entries.some((e) => e.level === 'info' && / (WARN|ERROR) \d+ --- /.test(e.message)))
})

t.test('our TypeScript runner, live', async (t) => {
  const logger = recordingLogger()
  const { client } = await startRunner(t, tsRunner, { process: { logger, env: { ...tsRunner.env, APISIX_EXT_PLUGIN_RUNNER_LOG_LEVEL: 'debug' } } })
  await client.prepareConf(badConf).catch(() => {})
  t.ok(await logged(logger, 'info', /Z INFO listening on unix:/), 'INFO at info')
  t.ok(await logged(logger, 'warn', /Z WARN can't find plugin no-such-plugin/), 'WARN at warn')
  t.ok(await logged(logger, 'error', /Z ERROR failed to parse the configuration of plugin fail/), 'ERROR at error')
  t.ok(await logged(logger, 'debug', /Z DEBUG receive rpc type: 1/), 'DEBUG at debug')
})

const python = spawnSync('python3', ['--version']).status === 0
t.test("Python's logging, formatted as the Python runner formats it", { skip: python ? false : 'no python3' }, async (t) => {
  const script = [
    'import logging, sys',
    'h = logging.StreamHandler(sys.stdout)',
    "h.setFormatter(logging.Formatter('%(asctime)s - %(levelname)s - %(message)s'))",
    'log = logging.getLogger(); log.setLevel(logging.DEBUG); log.addHandler(h)',
    "log.debug('d'); log.info('i'); log.warning('w'); log.error('e'); log.critical('c')",
  ].join('\n')
  const out = spawnSync('python3', ['-c', script], { encoding: 'utf8' }).stdout
  const lines = out.trimEnd().split('\n')
  t.equal(lines.length, 5, out)
  t.same(lines.map(lineLevel), ['debug', 'info', 'warn', 'error', 'error'])
})
