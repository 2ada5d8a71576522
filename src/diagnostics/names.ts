// The diagnostics_channel names the library publishes on (README "Observability:
// diagnostics channels"). Fixed: subscribers outside this package match on the strings.

/** A `tracingChannel`: start / end / asyncStart / asyncEnd / error around every runner call (PrepareConf excluded). */
export const RUNNER_CALL_CHANNEL = 'apisix-ext-plugin:runner-call'
/** A PrepareConf exchange that ended (a conf token, or an error). */
export const PREPARE_CONF_CHANNEL = 'apisix-ext-plugin:prepare-conf'
/** A runner process was spawned. */
export const RUNNER_SPAWN_CHANNEL = 'apisix-ext-plugin:runner-spawn'
/** A runner process exited. */
export const RUNNER_EXIT_CHANNEL = 'apisix-ext-plugin:runner-exit'
/** A respawn was scheduled after an exit, `delay` ms later. */
export const RUNNER_RESPAWN_CHANNEL = 'apisix-ext-plugin:runner-respawn'
/** A runner failure let the request through because of `allow_degradation`. */
export const DEGRADATION_CHANNEL = 'apisix-ext-plugin:degradation'
/** The gateway loaded (or failed to load) a configuration. */
export const CONFIG_RELOAD_CHANNEL = 'apisix-ext-plugin:config-reload'
