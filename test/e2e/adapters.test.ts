// The e2e scenario table (table.ts) on Express 5 and 4, Koa 3 and 2 and node:http; Fastify and
// Hono run it in adapters-fastify-hono.test.ts.
import t from 'tap'
import { runTable } from './table.js'

await runTable(t, ['express5', 'express4', 'koa3', 'koa2', 'http'])
