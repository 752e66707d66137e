// Starts a configured proxy: state store, token manager, server, listener; and stops it cleanly.
import type { Dispatcher } from 'undici'
import type { Clock } from './clock.js'
import type { ProxyConfig } from './config/types.js'
import { createTokenManager } from './credentials.js'
import type { Logger } from './log.js'
import { buildServer, type BuiltServer } from './proxy/server.js'
import type { TokenManager } from './token/manager.js'
import { FileStore, type TokenStore } from './token/store.js'

export interface RunningProxy {
  /** http://host:port of the listener. */
  url: string
  port: number
  manager: TokenManager
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
  let manager: TokenManager | undefined
  try {
    manager = createTokenManager(config, {
      logger: deps.logger,
      store,
      ...(deps.clock ? { clock: deps.clock } : {}),
      ...(deps.idpDispatcher ? { idpDispatcher: deps.idpDispatcher } : {}),
      ...(deps.random ? { random: deps.random } : {}),
    })
    const server = await buildServer(config, {
      logger: deps.logger,
      manager,
      ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    })
    manager.start()
    await server.app.listen({ host: config.listen.host, port: config.listen.port })
    const address = server.app.server.address()
    const port = typeof address === 'object' && address ? address.port : config.listen.port
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host
    const url = `http://${host}:${port}`
    deps.logger.info(
      { event: 'proxy.listening', url, upstream: config.oacUrl, stateFile: config.stateFile },
      `proxy listening on ${url}`,
    )
    const m = manager
    let closing: Promise<void> | undefined
    return {
      url,
      port,
      manager: m,
      server,
      store,
      close() {
        closing ??= (async () => {
          const grace = setTimeout(() => server.app.server.closeAllConnections(), config.proxy.shutdownGraceMs)
          grace.unref()
          await server.app.close()
          clearTimeout(grace)
          await m.stop()
          await store.close()
          deps.logger.info({ event: 'proxy.stopped' }, 'proxy stopped')
        })()
        return closing
      },
    }
  } catch (err) {
    await manager?.stop().catch(() => {})
    await store.close().catch(() => {})
    throw err
  }
}
