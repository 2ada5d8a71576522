#!/usr/bin/env node
// apisix-ext-plugin-runner [--log-level=<level>] [--strict] <plugins-module>   (--help, --version)
//
// A Plugin Runner for Apache APISIX whose plugins are written in JavaScript/TypeScript
// (see apisix-ext-plugin/runner). In APISIX's config.yaml:
//   ext-plugin:
//     cmd: ["npx", "apisix-ext-plugin-runner", "/path/to/plugins.js"]
//
// Runs the compiled package (dist/). APISIX_EXT_PLUGIN_RUNNER_SOURCE=1 runs the TypeScript
// sources instead, for this repository's tests: `node --import tsx bin/... plugins.ts`.
import { readFileSync } from 'node:fs'

const entry =
  process.env.APISIX_EXT_PLUGIN_RUNNER_SOURCE === '1'
    ? '../src/runner-server/cli.ts'
    : '../dist/esm/src/runner-server/cli.js'

try {
  let cli
  try {
    cli = await import(new URL(entry, import.meta.url).href)
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('runner-server')) {
      err.message += ' (is the package built? run `npm run build`)'
    }
    throw err
  }
  await cli.runCli(process.argv.slice(2), {
    // Here, not in the compiled library, so ESM, CommonJS and (under tsx) TypeScript all load.
    importModule: (url) => import(url),
    resolveFallback: (specifier) => import.meta.resolve(specifier),
    version: JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version,
  })
} catch (err) {
  const message = err instanceof Error ? err.message : String(err)
  if (err?.exitCode === 0) {
    process.stdout.write(`${message}\n`) // --help, --version
    process.exit(0)
  }
  process.stderr.write(`apisix-ext-plugin-runner: ${message}\n`)
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1)
}
