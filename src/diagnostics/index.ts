// Channel names, context types and channel objects, for publishers inside the library and
// re-exported from the package root for subscribers.
export * from './names.js'
export type * from './contexts.js'
export * from './channels.js'
export { publishConfigReload } from './config-reload.js'
