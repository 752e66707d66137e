// The shapes of a fleet refresh: what a FleetRefresher needs, what a refresh gives, which failures are the store's.
import type { Clock } from '../shared/clock.js'
import { OAuthError, ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { Grant, TokenSet } from '../oauth/types.js'
import { isStoreCode } from './failure.js'
import type { CredentialStore, SharedState, StateInput } from './store/redis/store.js'

/** How long a replica waits for another replica's refresh (the lock) before it looks for that replica's result. */
export const DEFAULT_LOCK_WAIT_MS = 10_000

export interface FleetDeps {
  store: CredentialStore
  grant: Grant
  log: Logger
  clock: Clock
  /** The access token's lifetime from a token response (the manager's rule, from expires_in and the JWT exp). */
  lifetimeOf(set: TokenSet, sentAtMs: number): number
  /**
   * Whether a stored access token is not yet due for a refresh (wall-clock ms; obtainedAtMs may be unknown for a
   * token a login stored): a token that is due is refreshed rather than adopted.
   */
  fresh(expiresAtMs: number, obtainedAtMs: number | undefined): boolean
  lockWaitMs?: number
  /** This replica's id, recorded as the writer of what it stores (for status). */
  replicaId?: string
  /** Keeps a refresh token the store never confirmed in the state file at stop; resolves its path. */
  keepInFile?(refreshToken: string): Promise<string | undefined>
}

export interface RefreshOptions {
  signal?: AbortSignal
  /** An access token the upstream refused: never adopted again. */
  rejected?: string
  /** The refresh token the caller holds; used only when neither the store nor this replica has one. */
  refreshToken?: string
}

/** What a refresh through the fleet gave. */
export type FleetResult =
  /** Another replica (or a login) stored a newer token: use it, nobody was called. */
  | { kind: 'adopted'; version: number; state: SharedState }
  /** This replica called the identity domain; `stored` is false while the write's outcome is unknown. */
  | { kind: 'obtained'; version: number; set: TokenSet; sentAtMs: number; lifetimeMs: number; stored: boolean }

/** True for the shared store's own failures (Redis down, refused, unreadable); a busy lock is not one of them. */
export function isStoreError(err: unknown): err is ProxyError {
  return err instanceof ProxyError && isStoreCode(err.code) && err.code !== 'store_busy'
}

export function isInvalidGrant(err: unknown): boolean {
  return err instanceof OAuthError && err.oauthError === 'invalid_grant'
}

/** What a replica holds of a stored state: the tokens, their times and the subject. */
export function pickHeld(state: SharedState): StateInput {
  const held: StateInput = {}
  if (state.refreshToken) held.refreshToken = state.refreshToken
  if (state.accessToken) held.accessToken = state.accessToken
  if (state.accessTokenExpiresAtMs !== undefined) held.accessTokenExpiresAtMs = state.accessTokenExpiresAtMs
  if (state.accessTokenObtainedAtMs !== undefined) held.accessTokenObtainedAtMs = state.accessTokenObtainedAtMs
  if (state.subject) held.subject = state.subject
  return held
}

/** The newest few refresh tokens a replica has seen (bounded; never logged). */
export class RecentTokens {
  readonly #tokens: string[] = []

  add(token: string | undefined): void {
    if (!token || this.#tokens.includes(token)) return
    this.#tokens.push(token)
    if (this.#tokens.length > 16) this.#tokens.shift()
  }

  has(token: string): boolean {
    return this.#tokens.includes(token)
  }
}
