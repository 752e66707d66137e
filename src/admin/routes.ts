// Admin endpoints under the reserved /-/ prefix: liveness, readiness and a JSON status.
import type { FastifyInstance } from 'fastify'
import { DEFAULT_CREDENTIAL } from '../config/options.js'
import type { ProxyConfig } from '../config/types.js'
import { ProxyError } from '../errors.js'
import type { TokenManager } from '../token/manager.js'
import type { ProxyCounters } from '../proxy/server.js'

/** OAC's API lives under /api, /ui, /dv...; it never uses /-/. */
export const ADMIN_PREFIX = '/-/'

export interface AdminDeps {
  managers: ReadonlyMap<string, TokenManager>
  counters: ProxyCounters
  config: ProxyConfig
}

export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  const { managers, counters, config } = deps
  const main = managers.get(DEFAULT_CREDENTIAL) as TokenManager
  app.get('/-/healthz', async () => ({ status: 'ok' }))

  app.get('/-/readyz', async (_request, reply) => {
    // ready when the OAC credential holds a usable token; the others are reported, not required
    const ready = main.peek() !== undefined
    reply.code(ready ? 200 : 503).header('cache-control', 'no-store')
    const credentials: Record<string, string> = {}
    for (const [name, m] of managers) credentials[name] = m.health
    return { status: ready ? 'ready' : 'not_ready', credentials }
  })

  app.get('/-/status', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return {
      upstream: config.oacUrl,
      identityDomain: config.idcsUrl,
      credentials: [...managers.values()].map((m) => m.status()),
      routes: config.routes.map((r) => ({ prefix: r.prefix, upstream: r.upstream, credential: r.credential })),
      counters,
    }
  })

  app.all('/-/*', async () => {
    throw new ProxyError('admin_not_found', 'no such admin endpoint', {
      hint: 'Admin endpoints: /-/healthz, /-/readyz, /-/status.',
    })
  })
}
