// Token store contract: what is kept per credential and what every store (file, memory, redis) offers.
import type { StoreMetricsSnapshot } from './redis/metrics.js'

/** Which identity domain and client a state entry was obtained from; a refresh token is only valid there. */
export interface CredentialIdentity {
  credential: string
  /** The identity domain URL, normalised (origin and path, no trailing slash). */
  idcsUrl: string
  clientId: string
}

/** What is kept for one credential. */
export interface CredentialState {
  /** Recorded on every write; entries written before it existed have none and are trusted. */
  identity?: CredentialIdentity
  refreshToken?: string
  /** When the refresh token above was received (ms since epoch). */
  refreshTokenObtainedAtMs?: number
  /** Who the token belongs to (JWT sub), for status output. */
  subject?: string
  /** An access token imported from a console download (tokens.tok); used until it expires. */
  importedAccessToken?: string
  importedAccessTokenExpiresAtMs?: number
  /** The last access token `oac-token-proxy token` obtained, reused by it until near expiry (file mode 0600). */
  accessToken?: string
  accessTokenObtainedAtMs?: number
  accessTokenExpiresAtMs?: number
  updatedAtMs?: number
}

export interface TokenStore {
  load(credential: string): CredentialState | undefined
  /** Resolves once the state is durable on disk. */
  save(credential: string, state: CredentialState): Promise<void>
  close(): Promise<void>
  /** Tells local commands (token, status) where the running proxy answers; file stores record it in the lock. */
  advertise?(info: Advertisement): void
  /**
   * Binds a credential's entry to an identity domain and client: throws state_mismatch when the entry
   * was written for another one; afterwards every save of that credential records the identity.
   * Optional: a store without it keeps no identities (a test double, say).
   */
  claim?(identity: CredentialIdentity): void
  /** What status shows of the store (never a secret). */
  describe?(): StoreStatus
  /** A shared store's operation counters, for /-/metrics. */
  metricsSnapshot?(): StoreMetricsSnapshot
}

/** The store as /-/status and `status` show it. */
export interface StoreStatus {
  kind: 'file' | 'redis' | 'sentinel'
  /** The state file (file store). */
  path?: string
  /** The shared store: redacted target, key prefix, encryption, this replica's id. */
  target?: string
  keyPrefix?: string
  encrypted?: boolean
  keyId?: string
  replica?: string
  /** Per credential: the stored version this replica last saw, who wrote it and when, how often it adopted. */
  credentials?: Record<string, SharedCredentialStatus>
}

export interface SharedCredentialStatus {
  version: number
  writtenBy?: string
  updatedAtMs?: number
  adoptions: number
}

/** Written into the lock file (mode 0600) once the proxy listens. */
export interface Advertisement {
  adminUrl: string
  adminKey: string
}
