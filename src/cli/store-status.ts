// `status` on a fleet's shared store: the store (kind, redacted target, prefix, encryption) and each credential's stored
// version, who wrote it and when; read straight from Redis, so it works whether or not a replica runs.
import type { CredentialConfig, ProxyConfig } from '../config/types.js'
import { openRedisStore, storeIdentityOf } from '../app/fleet-store.js'
import { forCommand } from './shared-store.js'
import { createLogger } from '../shared/log.js'

/** The store as status shows it: never a password, a key or a token. */
export interface StoreReport {
  kind: 'single' | 'sentinel'
  target: string
  keyPrefix: string
  encrypted: boolean
  keyId: string | undefined
}

/** One credential's stored state, without its tokens. */
export interface StoredCredential {
  credential: string
  grant: string
  configuredScope: string
  health: 'valid' | 'login_required' | 'stopped'
  version: number
  writtenBy?: string
  updatedAtMs?: number
  updatedAt?: string
  subject?: string
  refreshTokenStored: boolean
  accessTokenExpiresAtMs?: number
  accessTokenExpiresAt?: string
}

/** Reads each wanted credential's state from the store (rejects with the store's error when it cannot). */
export async function collectStoreStatus(
  config: ProxyConfig,
  wanted: readonly CredentialConfig[],
  nowMs = Date.now(),
): Promise<{ store: StoreReport; credentials: StoredCredential[] }> {
  const settings = config.store as NonNullable<ProxyConfig['store']>
  const redis = await forCommand(openRedisStore(config, settings, createLogger({ level: 'silent' })))
  try {
    const d = redis.describe()
    const credentials: StoredCredential[] = []
    for (const c of wanted) {
      const seen = await forCommand(redis.credential(storeIdentityOf(c)).read())
      const state = seen?.state
      const entry: StoredCredential = {
        credential: c.name,
        grant: c.grant,
        configuredScope: c.scope,
        health: 'stopped',
        version: seen?.version ?? 0,
        refreshTokenStored: Boolean(state?.refreshToken),
      }
      if (state) {
        entry.writtenBy = state.writtenBy
        entry.updatedAtMs = state.updatedAtMs
        entry.updatedAt = new Date(state.updatedAtMs).toISOString()
        if (state.subject) entry.subject = state.subject
      }
      const expiresAtMs = state?.accessToken ? state.accessTokenExpiresAtMs : undefined
      if (expiresAtMs !== undefined && expiresAtMs > nowMs) {
        entry.accessTokenExpiresAtMs = expiresAtMs
        entry.accessTokenExpiresAt = new Date(expiresAtMs).toISOString()
        entry.health = 'valid'
      } else if (c.grant === 'refresh_token' && !state?.refreshToken && !c.refreshToken) entry.health = 'login_required'
      credentials.push(entry)
    }
    return {
      store: { kind: d.kind, target: d.target, keyPrefix: d.keyPrefix, encrypted: d.encrypted, keyId: d.keyId },
      credentials,
    }
  } finally {
    await redis.close()
  }
}
