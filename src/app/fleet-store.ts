// A fleet's shared token store: opens Redis (this module loads only when store.* is set) and routes each
// credential's refreshes through it, so replicas behind one login call the identity domain once per cycle.
import type { CredentialConfig, ProxyConfig, StoreSettings } from '../config/types.js'
import type { Clock } from '../shared/clock.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { Grant } from '../oauth/types.js'
import { FleetRefresher } from '../token/fleet.js'
import { fleetGrant, storedTokenSet } from '../token/fleet-grant.js'
import { lifetimeOf } from '../token/lifetime.js'
import type { PendingLogin, TokenManager } from '../token/manager.js'
import type { LoginCoordinator } from './headless-login.js'
import { notYetDue } from '../token/schedule.js'
import { identityOf } from '../token/store/identity.js'
import {
  lockTtlFor,
  parseEncryptionKey,
  RedisTokenStore,
  StateCipher,
  type CredentialIdentity,
  type CredentialStore,
  type LinkEvent,
  type RedisConnectionConfig,
} from '../token/store/redis/index.js'
import { SharedStateStore } from '../token/store/shared.js'
import { FileStore } from '../token/store/file.js'

export interface FleetWiring {
  store: SharedStateStore
  /** The grant a credential's manager runs: a refresh through the fleet. */
  wrap(c: CredentialConfig, grant: Grant): Grant
  /** Hands every token another replica stores to that credential's manager. */
  follow(managers: ReadonlyMap<string, TokenManager>): Promise<void>
  /** The fleet's headless-login turn for a credential: one replica runs the device login. */
  loginCoordinator(c: CredentialConfig): LoginCoordinator
}

export interface FleetDeps {
  logger: Logger
  clock: Clock
  /** serve: sign-ins the store cannot take yet are kept pending, and at stop an unconfirmed one goes to the state file. */
  serving?: boolean
}

/** The connection options of the store section (secrets revealed only here, for the Redis client). */
export function connectionOf(settings: StoreSettings, config: Pick<ProxyConfig, 'tls'>): RedisConnectionConfig {
  return {
    ...(settings.url !== undefined ? { url: settings.url } : {}),
    ...(settings.sentinel
      ? {
          sentinel: {
            masterName: settings.sentinel.masterName,
            nodes: [...settings.sentinel.nodes],
            ...(settings.sentinel.password ? { password: settings.sentinel.password.reveal() } : {}),
          },
        }
      : {}),
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password ? { password: settings.password.reveal() } : {}),
    ...(config.tls.ca !== undefined && settings.url?.startsWith('rediss:') ? { tls: { ca: config.tls.ca } } : {}),
    commandTimeoutMs: settings.commandTimeoutMs,
    connectTimeoutMs: settings.connectTimeoutMs,
    clientName: 'oac-token-proxy',
  }
}

/** The cipher of the store section; running without a key is the explicit, loudly logged opt-out. */
export function cipherOf(settings: StoreSettings, logger: Logger): StateCipher {
  if (settings.encryption === 'none') {
    logger.warn(
      { event: 'store.unencrypted' },
      'store.encryption is none: tokens are kept in Redis unencrypted; anyone who can read Redis can use them',
    )
    return StateCipher.unencrypted()
  }
  const key = parseEncryptionKey((settings.encryptionKey as NonNullable<StoreSettings['encryptionKey']>).reveal())
  const previous = settings.previousEncryptionKey
    ? [parseEncryptionKey(settings.previousEncryptionKey.reveal(), 'store.previousEncryptionKey')]
    : []
  return new StateCipher(key, previous)
}

/** The store's key for a credential: its identity domain, client and name. */
export function storeIdentityOf(c: Pick<CredentialConfig, 'name' | 'idcsUrl' | 'clientId'>): CredentialIdentity {
  const id = identityOf(c.name, c.idcsUrl, c.clientId)
  return { identityDomainUrl: id.idcsUrl, clientId: id.clientId, credentialName: id.credential }
}

/** Opens the shared store (waits for Redis: a wrong password or an unreachable Redis stops the start). */
export async function openRedisStore(
  config: ProxyConfig,
  settings: StoreSettings,
  logger: Logger,
): Promise<RedisTokenStore> {
  const redis = await RedisTokenStore.open({
    connection: connectionOf(settings, config),
    keyPrefix: settings.keyPrefix,
    cipher: cipherOf(settings, logger),
    ...(settings.replicaId !== undefined ? { replicaId: settings.replicaId } : {}),
    lockTtlMs: lockTtlFor(config.token.idpTimeoutMs),
    onEvent: (event) => logLinkEvent(event, logger),
  })
  const d = redis.describe()
  logger.info(
    {
      event: 'store.opened',
      kind: d.kind,
      target: d.target,
      keyPrefix: d.keyPrefix,
      encrypted: d.encrypted,
      keyId: d.keyId,
      replica: d.replicaId,
    },
    `credential state shared in Redis at ${d.target}`,
  )
  return redis
}

function logLinkEvent(event: LinkEvent, logger: Logger): void {
  if (event.type === 'error') {
    logger.warn(
      { event: 'store.connection_failed', connection: event.connection, err: event.error },
      event.error.message,
    )
  } else if (event.reconnect) {
    logger.info({ event: 'store.reconnected', connection: event.connection }, 'connection to Redis restored')
  }
}

/**
 * Wires the configured credentials to the shared store: one FleetRefresher each, whose stored state is read before
 * the managers load it (so a fresh stored token is served without calling the identity domain).
 */
export async function openFleetStore(config: ProxyConfig, deps: FleetDeps): Promise<FleetWiring> {
  const settings = config.store
  if (!settings) throw new ProxyError('config_invalid', 'store: no store.url or store.sentinel configured')
  const redis = await openRedisStore(config, settings, deps.logger)
  const store = new SharedStateStore(redis, deps.serving === true)
  const fleets = new Map<string, FleetRefresher>()
  try {
    for (const c of config.credentials) {
      const fleet = new FleetRefresher({
        store: redis.credential(storeIdentityOf(c)),
        // replaced by the credential's grant in wrap(); the store reads need none
        grant: {
          name: c.grant,
          needsRefreshToken: c.grant === 'refresh_token',
          run: () => Promise.reject(new Error('unwired')),
        },
        log: deps.logger.child({ credential: c.name }),
        clock: deps.clock,
        lifetimeOf,
        fresh: (expiresAtMs, obtainedAtMs) => notYetDue(expiresAtMs, obtainedAtMs, deps.clock.now(), config.token),
        lockWaitMs: settings.lockWaitMs,
        replicaId: redis.replicaId,
        ...(deps.serving
          ? { keepInFile: (refreshToken: string) => keepInStateFile(config, c.name, refreshToken) }
          : {}),
      })
      fleets.set(c.name, fleet)
      await store.attach(c.name, fleet)
    }
  } catch (err) {
    await store.close().catch(() => {})
    throw err
  }
  return {
    store,
    wrap(c, grant) {
      const fleet = fleets.get(c.name) as FleetRefresher
      fleet.useGrant(grant)
      return fleetGrant(grant, fleet, deps.clock)
    },
    loginCoordinator(c) {
      return loginCoordinatorFor(redis.credential(storeIdentityOf(c)), redis.replicaId, deps.clock)
    },
    async follow(managers) {
      for (const [name, manager] of managers) {
        const fleet = fleets.get(name)
        if (!fleet) continue
        await fleet.follow(
          (adopted) => {
            // the lifetime counts from when the token was obtained, as on the replica that obtained it
            const obtainedAt = adopted.state.accessTokenObtainedAtMs ?? adopted.state.updatedAtMs
            manager.adoptShared(storedTokenSet(adopted.state, obtainedAt), obtainedAt).catch(() => {})
          },
          (refreshToken) => void manager.adoptSharedRefreshToken(refreshToken),
        )
      }
    },
  }
}

/** What the store holds of a login one replica runs: what the others show (code and URI, never a token). */
interface StoredLogin extends PendingLogin {
  replica: string
}

function loginCoordinatorFor(store: CredentialStore, replica: string, clock: Clock): LoginCoordinator {
  let mine: string | undefined
  return {
    async current() {
      const text = await store.readLogin().catch(() => undefined)
      if (!text || text === mine) return undefined
      try {
        const { userCode, verificationUri, verificationUriComplete, expiresAtMs } = JSON.parse(text) as StoredLogin
        return {
          userCode,
          verificationUri,
          ...(verificationUriComplete ? { verificationUriComplete } : {}),
          expiresAtMs,
        }
      } catch {
        return undefined
      }
    },
    async claim(login) {
      const text = JSON.stringify({ ...login, replica })
      // without the store, this replica runs its own login (nothing to coordinate with)
      const taken = await store.claimLogin(text, login.expiresAtMs - clock.now()).catch(() => true)
      if (taken) mine = text
      return taken
    },
    async release() {
      if (mine) await store.releaseLogin(mine)
      mine = undefined
    },
  }
}

/** Writes a refresh token the store never confirmed into the state file (its lock taken as usual); resolves its path. */
export async function keepInStateFile(config: ProxyConfig, credential: string, refreshToken: string): Promise<string> {
  const file = FileStore.open(config.stateFile)
  try {
    const now = Date.now()
    await file.save(credential, { refreshToken, refreshTokenObtainedAtMs: now, updatedAtMs: now })
  } finally {
    await file.close()
  }
  return config.stateFile
}
