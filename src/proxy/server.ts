// Assembles the Fastify server: admin routes, then every other path proxied to OAC with a fresh token.
import type { FastifyInstance } from 'fastify'
import type { Dispatcher } from 'undici'
import type { Server } from 'node:http'
import { createAgent } from '../net/http-agent.js'
import type { ProxyConfig } from '../config/types.js'
import type { ErrorCode } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { TokenManager } from '../token/manager.js'
import type { TokenStore } from '../token/store/types.js'
import { registerAdmin } from '../admin/routes.js'
import { newCounters, type ProxyCounters } from '../admin/counters.js'
import { Metrics } from '../admin/metrics.js'
import { createApp } from './app.js'
import { clientAbortTracker } from './client-abort.js'
import { createGuard } from './guards.js'
import { createGuardedServer, type ListenerScope } from './listeners.js'
import { logCompletedRequests } from './request-log.js'
import { registerRoute } from './route.js'
import { TransferGc } from './transfer-gc.js'
import type { RouteContext } from './route-context.js'

export interface ServerDeps {
  logger: Logger
  /** Token managers by credential name; every route's credential must be present. */
  managers: ReadonlyMap<string, TokenManager>
  /** Dispatcher for upstream requests; by default an undici Agent sized from the config. */
  dispatcher?: Dispatcher
  metrics?: Metrics
  /** Secret that lets local commands (token, status) ask this proxy; see the state lock file. */
  adminKey?: string
  /** Build information shown by /-/status. */
  startedAtMs?: number
  /** The token store, described by /-/status (and its metrics, for a shared store). */
  store?: TokenStore
}

export interface BuiltServer {
  app: FastifyInstance
  metrics: Metrics
  /** Another raw server with the same guards and handler (unix socket, admin listener). */
  createExtraServer(scope?: ListenerScope): Server
  counters: ProxyCounters
}

/** The upstream dispatcher: an undici Agent sized and timed from the config. */
function upstreamAgent(config: ProxyConfig): Dispatcher {
  return createAgent({
    connections: config.proxy.connections,
    headersTimeoutMs: config.proxy.upstreamTimeoutMs,
    bodyTimeoutMs: config.proxy.upstreamTimeoutMs,
    connectTimeoutMs: config.proxy.connectTimeoutMs,
    ca: config.tls.ca,
  })
}

/** Closes the extra servers and, unless it was given, the dispatcher when the app closes. */
function closeWithApp(app: FastifyInstance, extraServers: Server[], dispatcher: Dispatcher, owned: boolean): void {
  app.addHook('onClose', async () => {
    await Promise.all(
      extraServers.map((srv) => {
        srv.closeAllConnections()
        return new Promise((resolve) => srv.close(resolve))
      }),
    )
    if (owned) await dispatcher.close()
  })
}

/** Builds (never listens). The caller starts the manager and calls app.listen(). */
export async function buildServer(config: ProxyConfig, deps: ServerDeps): Promise<BuiltServer> {
  const { managers, logger } = deps
  const counters = newCounters()
  const metrics = deps.metrics ?? new Metrics()
  for (const m of managers.values()) metrics.watch(m)
  const onRefuse = (code: ErrorCode): void => {
    metrics.refused(code)
    counters.refused[code] = (counters.refused[code] ?? 0) + 1
  }
  const guard = createGuard(config, onRefuse, deps.adminKey)
  const extraServers: Server[] = []
  const dispatcher = deps.dispatcher ?? upstreamAgent(config)
  const clientAborted = clientAbortTracker(counters, metrics)
  const { app, handler } = createApp(config, logger, guard, onRefuse, clientAborted)

  registerAdmin(app, {
    managers,
    counters,
    config,
    metrics,
    ...(deps.adminKey ? { adminKey: deps.adminKey } : {}),
    ...(deps.store ? { store: deps.store } : {}),
    startedAtMs: deps.startedAtMs ?? Date.now(),
  })
  logCompletedRequests(app, config, logger, metrics)

  const ctx: RouteContext = { dispatcher, config, counters, metrics, clientAborted, transferGc: new TransferGc() }
  for (const route of config.routes) {
    const manager = managers.get(route.credential)
    if (!manager) throw new Error(`no token manager for credential ${route.credential}`)
    await registerRoute(app, route, manager, ctx)
  }
  closeWithApp(app, extraServers, dispatcher, !deps.dispatcher)

  return {
    app,
    counters,
    metrics,
    createExtraServer(scope: ListenerScope = config.admin.port === undefined ? 'all' : 'proxy') {
      const srv = createGuardedServer(guard, handler(), onRefuse, scope)
      extraServers.push(srv)
      return srv
    },
  }
}
