// A stand-in runner process for RunnerProcess tests: it listens where APISIX tells it to
// (or misbehaves, as its arguments ask). It speaks no protocol; readiness is a connect.
//   exit=N          print a line and exit with status N before listening
//   never-listen    stay up without ever listening
//   ignore-sigterm  keep running after SIGTERM
//   env             print the APISIX_* variables and FAKE_RUNNER_EXTRA
//   grandchild      spawn a long-lived child process and print its pid
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createServer } from 'node:net'

const args = new Set(process.argv.slice(2))
const exit = [...args].find((a) => a.startsWith('exit='))

if (args.has('env')) {
  for (const name of ['APISIX_LISTEN_ADDRESS', 'APISIX_CONF_EXPIRE_TIME', 'FAKE_RUNNER_EXTRA']) {
    console.log(`${name}=${process.env[name]}`)
  }
}
console.error('fake runner starting')
if (exit) {
  console.log('fatal: cannot start')
  process.exit(Number(exit.slice(5)))
}
if (args.has('ignore-sigterm')) process.on('SIGTERM', () => console.log('ignoring SIGTERM'))
if (args.has('grandchild')) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  console.log(`grandchild=${child.pid}`)
}
if (args.has('never-listen')) {
  setInterval(() => {}, 1000)
} else {
  const path = process.env.APISIX_LISTEN_ADDRESS.replace(/^unix:/, '')
  rmSync(path, { force: true })
  const server = createServer((socket) => socket.on('error', () => {}))
  server.listen(path, () => console.log(`listening on ${path}`))
  if (!args.has('ignore-sigterm')) {
    process.on('SIGTERM', () => {
      server.close()
      process.exit(0)
    })
  }
}
