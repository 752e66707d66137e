// Admin endpoints under the reserved /-/ prefix: liveness, readiness, status, metrics, and the token for local commands.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { DEFAULT_CREDENTIAL } from '../config/options.js'
import type { ProxyConfig } from '../config/types.js'
import { ProxyError } from '../shared/errors.js'
import type { TokenManager } from '../token/manager.js'
import type { TokenStore } from '../token/store/types.js'
import { ADMIN_KEY_HEADER, adminKeyMatches } from '../shared/admin-path.js'
import type { ProxyCounters } from './counters.js'
import { VERSION } from '../shared/version.js'
import type { Metrics } from './metrics.js'
import { credentialStatusJson, storeStatusJson, timesJson } from './status-json.js'
import { registerStatusPage } from './status-page.js'

// the reserved prefix, header and key check live in shared/ so the proxy and the CLI need not import this file

export interface AdminDeps {
  managers: ReadonlyMap<string, TokenManager>
  counters: ProxyCounters
  config: ProxyConfig
  metrics: Metrics
  adminKey?: string
  startedAtMs: number
  store?: TokenStore
}

export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  const { managers, counters, config, metrics } = deps
  if (deps.store) metrics.watchStore(deps.store)
  const main = managers.get(DEFAULT_CREDENTIAL) as TokenManager
  app.get('/-/healthz', async () => ({ status: 'ok' }))

  app.get('/-/readyz', async (_request, reply) => {
    // ready when the OAC credential holds a token with time left; the others are reported, not required
    const ready = main.hasTokenFor(config.admin.readyMinRemainingMs)
    reply.code(ready ? 200 : 503).header('cache-control', 'no-store')
    const credentials: Record<string, string> = {}
    for (const [name, m] of managers) credentials[name] = m.health
    return { status: ready ? 'ready' : 'not_ready', credentials }
  })

  app.get('/-/status', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return {
      version: VERSION,
      ...timesJson(Date.now(), deps.startedAtMs),
      upstream: config.oacUrl,
      identityDomain: config.idcsUrl,
      credentials: [...managers.values()].map((m) =>
        credentialStatusJson(m.status(), config.credentials.find((c) => c.name === m.name)?.scope),
      ),
      routes: config.routes.map((r) => ({ prefix: r.prefix, upstream: r.upstream, credential: r.credential })),
      ...(deps.store?.describe ? { store: storeStatusJson(deps.store.describe()) } : {}),
      counters,
    }
  })

  app.get('/-/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store')
    return metrics.registry.metrics()
  })

  // `oac-token-proxy token` asks the running proxy instead of refreshing (which would burn the rotating refresh token)
  app.get('/-/token', async (request: FastifyRequest<{ Querystring: { credential?: string } }>, reply) => {
    if (!adminKeyMatches(request.headers[ADMIN_KEY_HEADER], deps.adminKey)) {
      throw new ProxyError('local_key_required', 'the admin key is required for /-/token', {
        hint: 'Use `oac-token-proxy token` as the user running the proxy; it reads the key from the state lock file.',
      })
    }
    const name = request.query.credential ?? DEFAULT_CREDENTIAL
    const manager = managers.get(name)
    if (!manager) throw new ProxyError('admin_not_found', `no credential named '${name.slice(0, 64)}'`)
    const token = await manager.get()
    reply.header('cache-control', 'no-store')
    return { credential: name, accessToken: token.value, expiresAtMs: token.expiresAtMs }
  })

  registerStatusPage(app)

  app.all('/-/*', async () => {
    throw new ProxyError('admin_not_found', 'no such admin endpoint', {
      hint: 'Admin endpoints: /-/ (status page), /-/healthz, /-/readyz, /-/status, /-/metrics.',
    })
  })
}
