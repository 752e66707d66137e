// Starts a configured proxy: state store, token manager, server, listener; and stops it cleanly.
import type { Dispatcher } from 'undici'
import type { Clock } from './clock.js'
import type { ProxyConfig } from './config/types.js'
import { createTokenManagers, DEFAULT_CREDENTIAL } from './credentials.js'
import type { Logger } from './log.js'
import { buildServer, type BuiltServer } from './proxy/server.js'
import type { TokenManager } from './token/manager.js'
import { FileStore, type TokenStore } from './token/store.js'

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
  const store = deps.store ?? FileStore.open(config.stateFile)
  let managers: Map<string, TokenManager> | undefined
  try {
    managers = createTokenManagers(config, {
      logger: deps.logger,
      store,
      ...(deps.clock ? { clock: deps.clock } : {}),
      ...(deps.idpDispatcher ? { idpDispatcher: deps.idpDispatcher } : {}),
      ...(deps.random ? { random: deps.random } : {}),
    })
    const server = await buildServer(config, {
      logger: deps.logger,
      managers,
      ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    })
    for (const m of managers.values()) m.start()
    await server.app.listen({ host: config.listen.host, port: config.listen.port })
    const address = server.app.server.address()
    const port = typeof address === 'object' && address ? address.port : config.listen.port
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host
    const url = `http://${host}:${port}`
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
          clearTimeout(grace)
          await Promise.all([...all.values()].map((m) => m.stop()))
          await store.close()
          deps.logger.info({ event: 'proxy.stopped' }, 'proxy stopped')
        })()
        return closing
      },
    }
  } catch (err) {
    await Promise.all([...(managers?.values() ?? [])].map((m) => m.stop().catch(() => {})))
    await store.close().catch(() => {})
    throw err
  }
}
