// The gateway's hook for `apisix-ext-plugin:config-reload`, so that its reload paths (file
// watch, reload(), update(), Admin API writes, etcd) publish one line each and never build
// a context nobody reads.
import { configReloadChannel } from './channels.js'

/**
 * Publishes one configuration attempt: `routes` is the count of routes served afterwards
 * (the new configuration's, or the kept one's when `error` refused the new one).
 */
export function publishConfigReload(source: string, routes: number, error?: unknown): void {
  if (!configReloadChannel.hasSubscribers) return
  configReloadChannel.publish({ source, ok: error === undefined, error, routes })
}
