// Token manager's public shapes: its options, health, status and events.
import type { TokenSettings } from '../config/types.js'
import type { Clock } from '../shared/clock.js'
import type { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { Secret } from '../shared/secret.js'
import type { Grant } from '../oauth/types.js'
import type { AccessToken } from './schedule.js'
import type { TokenStore } from './store/types.js'

export type ManagerHealth = 'starting' | 'valid' | 'failing' | 'login_required' | 'credential_rejected' | 'stopped'

export interface TokenManagerOptions {
  /** Credential name, used in the state file, logs and metrics. */
  name: string
  grant: Grant
  store: TokenStore
  settings: TokenSettings
  logger: Logger
  clock?: Clock
  /** Used when the state file holds no refresh token yet. */
  bootstrapRefreshToken?: Secret | undefined
  /** The hint of login_required here, when not the default (a running proxy's device login, or `login`). */
  loginHint?: string | undefined
  random?: () => number
}

export interface ManagerStatus {
  credential: string
  grant: string
  health: ManagerHealth
  subject?: string
  scope?: string
  accessTokenExpiresAtMs?: number
  accessTokenRemainingMs?: number
  lastRefreshAtMs?: number
  nextRefreshAtMs?: number
  refreshTokenObtainedAtMs?: number
  consecutiveFailures: number
  refreshes: number
  failures: number
  lastError?: { code: string; message: string; atMs: number }
  stateWritePending: boolean
  /** A device login waiting for the user (headless first login). */
  login?: PendingLogin
}

export interface PendingLogin {
  userCode: string
  verificationUri: string
  verificationUriComplete?: string
  expiresAtMs: number
}

export interface RefreshEvent {
  credential: string
  reason: string
  durationMs: number
  token?: AccessToken
  error?: ProxyError
}

/** The events a token manager emits. */
export interface ManagerEvents {
  refreshed: [RefreshEvent]
  refresh_failed: [RefreshEvent]
  /** An access token obtained earlier (imported, or saved by login or token) is served without a refresh. */
  adopted: [{ credential: string; token: AccessToken }]
}
