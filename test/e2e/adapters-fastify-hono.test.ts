// The e2e scenario table (table.ts) on Fastify 5 and 4 and Hono (through the fetch adapter on
// @hono/node-server), each compared with Express 5, the reference of adapters.test.ts.
import t from 'tap'
import { runTable } from './table.js'

await runTable(t, ['express5', 'fastify5', 'fastify4', 'hono'])
