// node:http, loaded with require. An ES import of a built-in module reads all of its exports, and node:http's
// WebSocket, CloseEvent and MessageEvent exports are getters that load Node's own bundled undici: an 828 KB
// script, about 4 MB resident, that nothing here uses. Runtime code imports node:http from this file
// (test/shared/node-http.test.ts checks that serve never loads Node's bundled undici).
import { createRequire } from 'node:module'

const http = createRequire(import.meta.url)('node:http') as typeof import('node:http')

export const createServer = http.createServer
