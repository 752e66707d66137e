// A credential's saved state: the refresh token (on disk before it is used), its configured fallback, retried writes.
import type { Clock, TimerHandle } from '../shared/clock.js'
import type { Logger } from '../shared/log.js'
import type { Secret } from '../shared/secret.js'
import { toProxyError } from './failure.js'
import type { CredentialState, TokenStore } from './store/types.js'

/** Retry interval for persisting a refresh token after a failed state write. */
export const PERSIST_RETRY_MS = 5000

/** An access token saved with the state, and who saved it (an import, or login and token). */
export interface SavedAccessToken {
  value: string
  expiresAtMs: number | undefined
  kind: 'imported' | 'saved'
}

/** The access tokens saved with the state, in the order they are tried at start-up. */
export function savedAccessTokens(saved: CredentialState | undefined, useSaved: boolean): SavedAccessToken[] {
  const found: SavedAccessToken[] = []
  if (saved?.importedAccessToken) {
    found.push({
      value: saved.importedAccessToken,
      expiresAtMs: saved.importedAccessTokenExpiresAtMs,
      kind: 'imported',
    })
  }
  // the access token saved with the newest refresh token (by login or token): no rotation at start-up
  // while it has time left, which also keeps a restart loop from rotating on every start
  if (useSaved && saved?.accessToken) {
    found.push({ value: saved.accessToken, expiresAtMs: saved.accessTokenExpiresAtMs, kind: 'saved' })
  }
  return found
}

export interface SavedCredentialOptions {
  name: string
  store: TokenStore
  clock: Clock
  log: Logger
  bootstrap: Secret | undefined
  /** True once the manager stops: no new write retries are planned then. */
  isStopped: () => boolean
}

/** The refresh token held for one credential, kept in the store before it is used. */
export class SavedCredential {
  refreshToken: string | undefined
  refreshTokenObtainedAtMs: number | undefined
  /** Who the token belongs to (JWT sub), saved for status output. */
  subject: string | undefined
  readonly #options: SavedCredentialOptions
  #bootstrapTried = false
  #persistTimer: TimerHandle | undefined

  constructor(options: SavedCredentialOptions) {
    this.#options = options
  }

  /** What the store holds for this credential. */
  saved(): CredentialState | undefined {
    return this.#options.store.load(this.#options.name)
  }

  /** Takes the saved refresh token, or the configured one when none is saved. */
  load(): void {
    const { bootstrap, log } = this.#options
    const saved = this.saved()
    if (saved?.refreshToken) {
      this.refreshToken = saved.refreshToken
      this.refreshTokenObtainedAtMs = saved.refreshTokenObtainedAtMs
      this.subject = saved.subject
      if (bootstrap && bootstrap.reveal() !== saved.refreshToken) {
        log.info(
          { event: 'token.bootstrap_deferred' },
          'state file has a newer refresh token; the configured one is kept as a fallback',
        )
      } else this.#bootstrapTried = true
    } else if (bootstrap) {
      this.refreshToken = bootstrap.reveal()
      this.#bootstrapTried = true
      log.info({ event: 'token.bootstrap_used', source: bootstrap.source }, 'using the configured refresh token')
    }
  }

  /** A new refresh token (rotated, or from a login): the one before it is dead from now on. */
  replace(refreshToken: string): void {
    this.refreshToken = refreshToken
    this.refreshTokenObtainedAtMs = this.#options.clock.now()
    this.#bootstrapTried = true
  }

  /** Whether the configured refresh token is left to try after `used` was rejected. */
  canFallBackToBootstrap(used: string | undefined): boolean {
    const { bootstrap } = this.#options
    return !this.#bootstrapTried && bootstrap !== undefined && bootstrap.reveal() !== used
  }

  fallBackToBootstrap(): void {
    this.#bootstrapTried = true
    this.refreshToken = this.#options.bootstrap?.reveal()
    this.#options.log.warn(
      { event: 'token.bootstrap_fallback' },
      'stored refresh token was rejected; trying the configured one',
    )
  }

  /** True while a failed write waits for its retry. */
  get writePending(): boolean {
    return this.#persistTimer !== undefined
  }

  async persist(): Promise<void> {
    const { clock, store, name, log } = this.#options
    const state: CredentialState = { updatedAtMs: clock.now() }
    if (this.refreshToken) state.refreshToken = this.refreshToken
    if (this.refreshTokenObtainedAtMs !== undefined) state.refreshTokenObtainedAtMs = this.refreshTokenObtainedAtMs
    if (this.subject) state.subject = this.subject
    await store.save(name, state)
    if (this.#persistTimer) {
      clock.clearTimeout(this.#persistTimer)
      this.#persistTimer = undefined
      log.info({ event: 'state.write_recovered' }, 'state file written again')
    }
  }

  /** Persists; a failed write is logged and retried every PERSIST_RETRY_MS, the token held in memory meanwhile. */
  async persistOrRetry(): Promise<void> {
    await this.persist().catch((err: unknown) => this.#onPersistFailure(err))
  }

  /** On stop: one last try of a write that is waiting for its retry. */
  async flush(): Promise<void> {
    if (!this.#persistTimer) return
    this.#options.clock.clearTimeout(this.#persistTimer)
    this.#persistTimer = undefined
    await this.persist().catch(() => {})
  }

  #onPersistFailure(err: unknown): void {
    const { clock, log, isStopped } = this.#options
    log.error(
      { event: 'state.write_failed', err: toProxyError(err) },
      'could not save the new refresh token; it is held in memory and saving is retried',
    )
    if (this.#persistTimer || isStopped()) return
    const retry = (): void => {
      this.#persistTimer = clock.setTimeout(() => {
        this.persist().catch(() => retry())
      }, PERSIST_RETRY_MS)
    }
    retry()
  }
}
