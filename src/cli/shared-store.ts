// The one-shot commands on a fleet's shared store (store.url or store.sentinel): login, import and token read and write
// the credential's state in Redis, so the whole fleet signs in at once and a refresh happens only under the fleet's lock.
import type { CredentialConfig, ProxyConfig } from '../config/types.js'
import { keepInStateFile, openFleetStore, storeIdentityOf, type FleetWiring } from '../app/fleet-store.js'
import { createTokenManagers } from '../app/managers.js'
import { systemClock, type Clock } from '../shared/clock.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { TokenStore } from '../token/store/types.js'
import type { Grant } from '../oauth/types.js'
import type { FleetRefresher } from '../token/fleet.js'
import { isStoreError } from '../token/fleet-types.js'
import { idpName, withProgress } from './progress.js'
import { lateAnswer } from './late-answer.js'

/** The shared store opened for one command: the credentials' refreshers, described without secrets. */
export interface CommandStore {
  wiring: FleetWiring
  /** Where a credential's state now is, for the command's last line: the store, its target and version. */
  where(credential: string): string
  fleet(credential: string): FleetRefresher
  close(): Promise<void>
}

/** What a one-shot command tells for each store failure (the store's own hints speak of a running proxy). */
const COMMAND_HINTS = {
  store_unavailable:
    'nothing was changed; check that Redis runs and is reachable at the configured store.url or store.sentinel (oac-token-proxy doctor names the fix)',
  store_refused:
    'nothing was changed; check store.username and store.password, the ACL permissions and tls.caFile (oac-token-proxy doctor names the fix)',
  store_state_unreadable:
    'the stored state was sealed with another key: give that key as store.encryptionKey or store.previousEncryptionKey (oac-token-proxy doctor names the state to delete if the key is lost)',
} as const

/** Resolves `opening`, or rejects with the store's error and the hint a command needs. */
export async function forCommand<T>(opening: Promise<T>): Promise<T> {
  try {
    return await opening
  } catch (err) {
    if (!isStoreError(err) || !(err.code in COMMAND_HINTS)) throw err
    throw new ProxyError(err.code, err.message, {
      cause: err,
      hint: COMMAND_HINTS[err.code as keyof typeof COMMAND_HINTS],
    })
  }
}

/** Opens Redis as serve does (PING first: a wrong password or an unreachable Redis stops the command here). */
export async function openCommandStore(
  config: ProxyConfig,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<CommandStore> {
  const wiring = await forCommand(openFleetStore(config, { logger, clock }))
  const d = wiring.store.redis.describe()
  const fleet = (name: string): FleetRefresher => {
    const f = wiring.store.fleet(name)
    if (!f) throw new ProxyError('usage', `credential '${name}' is not configured`)
    return f
  }
  return {
    wiring,
    fleet,
    where: (name) =>
      `the shared store at ${d.target} (key prefix ${d.keyPrefix}, version ${fleet(name).version}, ${d.encrypted ? `encrypted with key ${d.keyId ?? '?'}` : 'UNENCRYPTED'})`,
    close: () => wiring.store.close(),
  }
}

/**
 * Stores an access token (a tokens.tok import) on top of the stored state as the next version, keeping the stored
 * refresh token: a compare-and-set on the version read, retried when another replica wrote in between.
 */
export async function storeImportedAccessToken(
  store: CommandStore,
  credential: Pick<CredentialConfig, 'name' | 'idcsUrl' | 'clientId'>,
  accessToken: string,
  expiresAtMs: number,
): Promise<number> {
  const credentialStore = store.wiring.store.redis.credential(storeIdentityOf(credential))
  // under the refresh lock: a replica rotating meanwhile would otherwise see its new refresh token written over
  const lock = await forCommand(credentialStore.acquireLock({ waitMs: 10_000 }))
  if (!lock)
    throw new ProxyError('store_busy', 'a replica held the refresh lock for 10 s', { hint: 'run the import again' })
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const seen = await forCommand(credentialStore.read())
      const written = await forCommand(
        credentialStore.write(seen?.version ?? 0, {
          ...(seen?.state.refreshToken ? { refreshToken: seen.state.refreshToken } : {}),
          ...(seen?.state.subject ? { subject: seen.state.subject } : {}),
          accessToken,
          accessTokenExpiresAtMs: expiresAtMs,
        }),
      )
      if (written.ok) return written.version
    }
  } finally {
    await lock.release().catch(() => {})
  }
  throw new ProxyError('store_busy', 'the shared store kept changing while the access token was being stored', {
    hint: 'run the import again',
  })
}

/**
 * The shared store as a login's or an import's target: a refresh token the store cannot take (Redis down) is kept in
 * the state file instead of being lost, and the message says how to move it into the store.
 */
export function withStateFileFallback(store: TokenStore, config: ProxyConfig): TokenStore {
  return {
    load: (name) => store.load(name),
    close: () => store.close(),
    async save(name, state) {
      try {
        await forCommand(store.save(name, state))
      } catch (err) {
        const code = (err as ProxyError).code
        if (!state.refreshToken || !(isStoreError(err) || code === 'store_busy')) throw err
        const file = await keepInStateFile(config, name, state.refreshToken).catch(() => undefined)
        if (!file) throw err
        throw new ProxyError(code, `${(err as ProxyError).message}; the new refresh token is kept in ${file}`, {
          cause: err,
          hint: 'when Redis answers again, run: oac-token-proxy migrate --to redis',
        })
      }
    },
  }
}

/** A grant that records whether it ran, i.e. whether this command called the identity domain. */
function recording(grant: Grant, ran: { called: boolean }): Grant {
  return {
    ...grant,
    run: (ctx) => {
      ran.called = true
      return grant.run(ctx)
    },
  }
}

/**
 * `token` on the shared store: the stored access token while it is not yet due; otherwise a refresh through the
 * fleet (under its lock, with the version check), whose result every replica adopts. A refresh_token grant never
 * refreshes outside the lock: with Redis down the command fails with the store's error.
 */
export async function fleetToken(
  config: ProxyConfig,
  credential: CredentialConfig,
  logger: Logger,
): Promise<{ accessToken: string; expiresAtMs: number; source: 'store' | 'refresh' }> {
  const store = await openCommandStore(config, logger)
  try {
    const only: ProxyConfig = {
      ...config,
      routes: [{ prefix: '/', upstream: config.oacUrl, credential: credential.name }],
    }
    const ran = { called: false }
    const manager = createTokenManagers(only, {
      logger,
      store: store.wiring.store,
      wrapGrant: (c, grant) => store.wiring.wrap(c, recording(grant, ran)),
    }).get(credential.name)
    if (!manager) throw new ProxyError('usage', `credential '${credential.name}' is not usable`)
    // the fleet judges the stored token (not yet due: served as is), so the manager always asks it
    manager.start({ useSaved: false })
    try {
      const token = await withProgress(idpName(credential.idcsUrl), manager.get(), {
        limitMs: config.token.idpTimeoutMs,
      }).catch((err: unknown) => lateAnswer(manager, err, config.token, credential.idcsUrl, logger))
      await settle(store.fleet(credential.name), config, credential.name)
      return { accessToken: token.value, expiresAtMs: token.expiresAtMs, source: ran.called ? 'refresh' : 'store' }
    } finally {
      await manager.stop()
    }
  } finally {
    await store.close()
  }
}

/**
 * A write whose outcome was unknown (Redis timed out) is written again by the next read: the command does not
 * leave before the store holds what it obtained, since it may be the only copy of a rotated refresh token. If the
 * store never confirms it, the refresh token is kept in the state file, from where `migrate --to redis` puts it back.
 */
async function settle(fleet: FleetRefresher, config: ProxyConfig, credential: string): Promise<void> {
  let last: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const seen = await fleet.read()
      if (!seen || seen.version >= fleet.version) return
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, 500 * (attempt + 1)))
  }
  const kept = await keepInFile(fleet, config, credential)
  throw new ProxyError(
    'store_unavailable',
    kept
      ? `the new token was obtained but the shared store did not confirm storing it; its refresh token is kept in ${config.stateFile}`
      : 'the new token was obtained but the shared store did not confirm storing it',
    {
      cause: last,
      hint: kept
        ? 'when Redis answers again, run: oac-token-proxy migrate --to redis (oac-token-proxy doctor checks Redis)'
        : 'check Redis (oac-token-proxy doctor); if the replicas then answer login_required, run oac-token-proxy login',
    },
  )
}

/** Writes the held refresh token into the state file; false when there is none or the write fails. */
async function keepInFile(fleet: FleetRefresher, config: ProxyConfig, credential: string): Promise<boolean> {
  const refreshToken = fleet.heldRefreshToken
  if (!refreshToken) return false
  return keepInStateFile(config, credential, refreshToken).then(
    () => true,
    () => false,
  )
}
