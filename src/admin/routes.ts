// Admin endpoints under the reserved /-/ prefix: liveness, readiness and a JSON status.
import type { FastifyInstance } from 'fastify'
import type { ProxyConfig } from '../config/types.js'
import { ProxyError } from '../errors.js'
import type { TokenManager } from '../token/manager.js'
import type { ProxyCounters } from '../proxy/server.js'

/** OAC's API lives under /api, /ui, /dv...; it never uses /-/. */
export const ADMIN_PREFIX = '/-/'

export interface AdminDeps {
  manager: TokenManager
  counters: ProxyCounters
  config: ProxyConfig
}

export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  const { manager, counters, config } = deps
  app.get('/-/healthz', async () => ({ status: 'ok' }))

  app.get('/-/readyz', async (_request, reply) => {
    const s = manager.status()
    const ready = manager.peek() !== undefined
    reply.code(ready ? 200 : 503).header('cache-control', 'no-store')
    return { status: ready ? 'ready' : 'not_ready', credentials: { [s.credential]: s.health } }
  })

  app.get('/-/status', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return {
      upstream: config.oacUrl,
      identityDomain: config.idcsUrl,
      credentials: [manager.status()],
      counters,
    }
  })

  app.all('/-/*', async () => {
    throw new ProxyError('admin_not_found', 'no such admin endpoint', {
      hint: 'Admin endpoints: /-/healthz, /-/readyz, /-/status.',
    })
  })
}
