// Starts a configured proxy: state store, token manager, server, listener; and stops it cleanly.
import type { Dispatcher } from 'undici'
import type { Clock } from './clock.js'
import type { ProxyConfig } from './config/types.js'
import { createTokenManagers, DEFAULT_CREDENTIAL } from './credentials.js'
import type { Logger } from './log.js'
import { buildServer, type BuiltServer } from './proxy/server.js'
import type { TokenManager } from './token/manager.js'
import { FileStore, type TokenStore } from './token/store.js'
import { createAgent } from './http-agent.js'
import { listenUnix } from './proxy/listeners.js'
import { isLoopbackHost } from './config/security.js'

export interface RunningProxy {
  /** http://host:port of the listener. */
  url: string
  port: number
  /** The default (OAC) credential's manager. */
  manager: TokenManager
  managers: ReadonlyMap<string, TokenManager>
  server: BuiltServer
  store: TokenStore
  /** Stops accepting, drains in-flight requests (up to shutdownGraceMs), persists state, releases the lock. */
  close(): Promise<void>
}

export interface RunDeps {
  logger: Logger
  clock?: Clock
  store?: TokenStore
  dispatcher?: Dispatcher
  idpDispatcher?: Dispatcher
  random?: () => number
}

export async function startProxy(config: ProxyConfig, deps: RunDeps): Promise<RunningProxy> {
  for (const warning of config.warnings) deps.logger.warn({ event: 'config.warning' }, warning)
  const store = deps.store ?? FileStore.open(config.stateFile)
  const idpDispatcher =
    deps.idpDispatcher ??
    createAgent({
      headersTimeoutMs: config.token.idpTimeoutMs,
      bodyTimeoutMs: config.token.idpTimeoutMs,
      connectTimeoutMs: config.token.idpTimeoutMs,
      ca: config.tls.ca,
    })
  let managers: Map<string, TokenManager> | undefined
  try {
    managers = createTokenManagers(config, {
      logger: deps.logger,
      store,
      ...(deps.clock ? { clock: deps.clock } : {}),
      idpDispatcher,
      ...(deps.random ? { random: deps.random } : {}),
    })
    const server = await buildServer(config, {
      logger: deps.logger,
      managers,
      ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    })
    for (const m of managers.values()) m.start()
    await server.app.ready()
    if (config.listen.tcp) await server.app.listen({ host: config.listen.host, port: config.listen.port })
    if (config.listen.socket) {
      const srv = config.listen.tcp ? server.createExtraServer() : server.app.server
      await listenUnix(srv, config.listen.socket, config.listen.socketMode)
      deps.logger.info(
        { event: 'proxy.listening_socket', socket: config.listen.socket, mode: config.listen.socketMode.toString(8) },
        `also listening on ${config.listen.socket}`,
      )
    }
    if (config.listen.tcp && !isLoopbackHost(config.listen.host)) {
      deps.logger.warn(
        { event: 'proxy.exposed', host: config.listen.host, localKeys: config.security.localKeys.length },
        config.security.localKeys.length > 0
          ? `listening beyond loopback on ${config.listen.host}; callers must present a local key`
          : `listening beyond loopback on ${config.listen.host} WITHOUT local keys: anyone who can reach this port acts on OAC with this proxy's rights`,
      )
    }
    const address = config.listen.tcp ? server.app.server.address() : null
    const port = typeof address === 'object' && address ? address.port : config.listen.port
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host
    const url = config.listen.tcp ? `http://${host}:${port}` : `unix:${config.listen.socket}`
    deps.logger.info(
      { event: 'proxy.listening', url, upstream: config.oacUrl, stateFile: config.stateFile },
      `proxy listening on ${url}`,
    )
    const all = managers
    let closing: Promise<void> | undefined
    return {
      url,
      port,
      manager: all.get(DEFAULT_CREDENTIAL) as TokenManager,
      managers: all,
      server,
      store,
      close() {
        closing ??= (async () => {
          const grace = setTimeout(() => server.app.server.closeAllConnections(), config.proxy.shutdownGraceMs)
          grace.unref()
          await server.app.close()
          if (!config.listen.tcp) {
            // Fastify only closes a server it started listening itself
            server.app.server.closeAllConnections()
            await new Promise((resolve) => server.app.server.close(resolve))
          }
          clearTimeout(grace)
          await Promise.all([...all.values()].map((m) => m.stop()))
          if (!deps.idpDispatcher) await idpDispatcher.close()
          await store.close()
          deps.logger.info({ event: 'proxy.stopped' }, 'proxy stopped')
        })()
        return closing
      },
    }
  } catch (err) {
    await Promise.all([...(managers?.values() ?? [])].map((m) => m.stop().catch(() => {})))
    if (!deps.idpDispatcher) await idpDispatcher.close().catch(() => {})
    await store.close().catch(() => {})
    throw err
  }
}
