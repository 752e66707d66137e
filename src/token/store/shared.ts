// The token store of a fleet: each credential's state lives in Redis behind a FleetRefresher; nothing is kept on disk.
import type { FleetRefresher } from '../fleet.js'
import type { StoreMetricsSnapshot } from './redis/metrics.js'
import type { RedisTokenStore, VersionedState } from './redis/store.js'
import type { CredentialState, StoreStatus, TokenStore } from './types.js'

/** A stored version as the manager's saved state: its refresh token and the access token every replica serves. */
export function credentialStateOf(seen: VersionedState): CredentialState {
  const { state } = seen
  const out: CredentialState = { updatedAtMs: state.updatedAtMs }
  if (state.refreshToken) out.refreshToken = state.refreshToken
  if (state.subject) out.subject = state.subject
  if (state.accessToken && state.accessTokenExpiresAtMs !== undefined) {
    out.accessToken = state.accessToken
    out.accessTokenExpiresAtMs = state.accessTokenExpiresAtMs
  }
  return out
}

/**
 * TokenStore over the shared Redis store. `load` answers from the state read when a credential is attached (start-up
 * needs no identity-domain call while the stored access token is fresh); `save` stores a login's new refresh token
 * as the next version (a rotation by a refresh is already stored by the FleetRefresher under the version check).
 */
export class SharedStateStore implements TokenStore {
  readonly #fleets = new Map<string, FleetRefresher>()
  readonly #snapshots = new Map<string, CredentialState>()

  /** serve keeps a sign-in the store cannot take yet (stored later); one-shot commands report the failure instead. */
  constructor(
    readonly redis: RedisTokenStore,
    readonly keepPendingLogins = false,
  ) {}

  /** Registers a credential's refresher and reads its stored state (seeding an emptied store from it later). */
  async attach(name: string, fleet: FleetRefresher): Promise<VersionedState | undefined> {
    this.#fleets.set(name, fleet)
    const seen = await fleet.read()
    if (seen) {
      fleet.hold(seen.version, credentialStateOf(seen))
      this.#snapshots.set(name, credentialStateOf(seen))
    }
    return seen
  }

  fleet(name: string): FleetRefresher | undefined {
    return this.#fleets.get(name)
  }

  load(name: string): CredentialState | undefined {
    return this.#snapshots.get(name)
  }

  async save(name: string, state: CredentialState): Promise<void> {
    const fleet = this.#fleets.get(name)
    // a refresh token the fleet already had (a rotation it stored, a token it adopted) is no new sign-in
    if (!fleet || !state.refreshToken || fleet.knows(state.refreshToken)) return
    await fleet.storeLogin(
      {
        refreshToken: state.refreshToken,
        ...(state.subject ? { subject: state.subject } : {}),
        ...(state.accessToken && state.accessTokenExpiresAtMs !== undefined
          ? { accessToken: state.accessToken, accessTokenExpiresAtMs: state.accessTokenExpiresAtMs }
          : {}),
      },
      // serve: a sign-in the store cannot take yet is served here and stored when it answers
      { keepOnFailure: this.keepPendingLogins },
    )
  }

  describe(): StoreStatus {
    const d = this.redis.describe()
    const credentials: NonNullable<StoreStatus['credentials']> = {}
    for (const [name, fleet] of this.#fleets) credentials[name] = fleet.status()
    return {
      kind: d.kind === 'sentinel' ? 'sentinel' : 'redis',
      target: d.target,
      keyPrefix: d.keyPrefix,
      encrypted: d.encrypted,
      ...(d.keyId !== undefined ? { keyId: d.keyId } : {}),
      replica: d.replicaId,
      credentials,
    }
  }

  metricsSnapshot(): StoreMetricsSnapshot {
    return this.redis.metrics.snapshot()
  }

  async close(): Promise<void> {
    for (const fleet of this.#fleets.values()) await fleet.stop()
    await this.redis.close()
  }
}
