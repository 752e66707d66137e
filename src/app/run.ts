// Starts a configured proxy: state store, token managers, headless login, token sinks, server, listeners; stops it cleanly.
import { randomBytes } from 'node:crypto'
import type { Dispatcher } from 'undici'
import { systemClock, type Clock } from '../shared/clock.js'
import type { ProxyConfig } from '../config/types.js'
import { createTokenManagers, DEFAULT_CREDENTIAL, signsInByItself } from './managers.js'
import { createIdpAgent } from '../net/http-agent.js'
import type { Logger } from '../shared/log.js'
import { watchForLogin, type HeadlessLogin } from './headless-login.js'
import { openListeners } from '../proxy/listen.js'
import { buildServer, type BuiltServer } from '../proxy/server.js'
import type { TokenManager } from '../token/manager.js'
import { attachTokenSink } from '../token/sink.js'
import { FileStore } from '../token/store/file.js'
import type { TokenStore } from '../token/store/types.js'
import type { FleetWiring } from './fleet-store.js'

export interface RunningProxy {
  /** http://host:port of the proxy listener (or unix:PATH). */
  url: string
  port: number
  /** Where the /-/ endpoints answer (the proxy URL unless admin.port is set). */
  adminUrl: string
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
  const clock = deps.clock ?? systemClock
  const { store, fleet } = await openStore(config, deps, clock)
  const idpDispatcher = deps.idpDispatcher ?? createIdpAgent(config)
  const adminKey = randomBytes(24).toString('base64url')
  let managers: Map<string, TokenManager> | undefined
  const logins: HeadlessLogin[] = []
  try {
    managers = createTokenManagers(config, {
      logger: deps.logger,
      store,
      clock,
      idpDispatcher,
      serving: true,
      ...(deps.random ? { random: deps.random } : {}),
      ...(fleet ? { wrapGrant: fleet.wrap } : {}),
    })
    await fleet?.follow(managers)
    const server = await buildServer(config, {
      logger: deps.logger,
      managers,
      adminKey,
      store,
      startedAtMs: clock.now(),
      ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    })
    logins.push(...attachPerCredential(config, managers, { ...deps, clock, idpDispatcher }, fleet))
    // bind first: a proxy that cannot listen must exit before a refresh rotates the refresh token
    for (const m of managers.values()) m.load()
    const listeners = await openListeners(config, server, deps.logger)
    store.advertise?.({ adminUrl: listeners.adminUrl, adminKey })
    deps.logger.info(
      {
        event: 'proxy.listening',
        url: listeners.url,
        upstream: config.oacUrl,
        ...(fleet ? { store: fleet.store.redis.describe().target } : { stateFile: config.stateFile }),
      },
      `proxy listening on ${listeners.url}`,
    )
    for (const m of managers.values()) m.start()
    const all = managers
    let closing: Promise<void> | undefined
    return {
      url: listeners.url,
      port: listeners.port,
      adminUrl: listeners.adminUrl,
      manager: all.get(DEFAULT_CREDENTIAL) as TokenManager,
      managers: all,
      server,
      store,
      close() {
        closing ??= (async () => {
          for (const l of logins) l.stop()
          await listeners.close(config.proxy.shutdownGraceMs)
          await Promise.all([...all.values()].map((m) => m.stop()))
          if (!deps.idpDispatcher) await idpDispatcher.close()
          await store.close()
          deps.logger.info({ event: 'proxy.stopped' }, 'proxy stopped')
        })()
        return closing
      },
    }
  } catch (err) {
    for (const l of logins) l.stop()
    await Promise.all([...(managers?.values() ?? [])].map((m) => m.stop().catch(() => {})))
    if (!deps.idpDispatcher) await idpDispatcher.close().catch(() => {})
    await store.close().catch(() => {})
    throw err
  }
}

/** Each credential's token file and headless login (one login for a fleet, through its shared store). */
function attachPerCredential(
  config: ProxyConfig,
  managers: ReadonlyMap<string, TokenManager>,
  deps: RunDeps & { clock: Clock; idpDispatcher: Dispatcher },
  fleet: FleetWiring | undefined,
): HeadlessLogin[] {
  const logins: HeadlessLogin[] = []
  for (const credential of config.credentials) {
    const m = managers.get(credential.name)
    if (!m) continue
    if (credential.tokenFile) attachTokenSink(m, credential.tokenFile, deps.logger)
    if (credential.grant === 'refresh_token' && signsInByItself(config)) {
      logins.push(
        watchForLogin(m, credential, config, {
          logger: deps.logger,
          clock: deps.clock,
          idpDispatcher: deps.idpDispatcher,
          ...(fleet ? { coordinator: fleet.loginCoordinator(credential) } : {}),
        }),
      )
    }
  }
  return logins
}

/** The state file, or a fleet's shared store (Redis, loaded only when configured), unless the caller brings one. */
async function openStore(
  config: ProxyConfig,
  deps: RunDeps,
  clock: Clock,
): Promise<{ store: TokenStore; fleet: FleetWiring | undefined }> {
  if (deps.store) return { store: deps.store, fleet: undefined }
  if (config.store) {
    const fleet = await (
      await import('./fleet-store.js')
    ).openFleetStore(config, { logger: deps.logger, clock, serving: true })
    return { store: fleet.store, fleet }
  }
  const store = FileStore.open(config.stateFile)
  logStoreOpened(store, deps.logger)
  return { store, fleet: undefined }
}

/** What taking the state file's lock cleaned up: a stale lock of a process that is gone, temporary files. */
export function logStoreOpened(store: FileStore, logger: Logger): void {
  const stale = store.takenOverLock
  if (stale) {
    logger.warn(
      {
        event: 'state.lock_taken_over',
        lockFile: store.lockPath,
        ...(stale.pid !== undefined ? { stalePid: stale.pid, staleHost: stale.hostname } : {}),
      },
      `took over the lock of ${store.path}: ${stale.pid !== undefined ? `its process ${stale.pid} on ${stale.hostname} is gone` : 'it was unreadable'}`,
    )
  }
  if (store.removedTempFiles > 0) {
    logger.info(
      { event: 'state.temp_files_removed', count: store.removedTempFiles },
      'removed temporary state files left by an interrupted write',
    )
  }
}
