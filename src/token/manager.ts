// Token manager: one per credential; proactive refresh, single flight, backoff, clock-jump detection.
import { EventEmitter } from 'node:events'
import { decodeJwt } from 'jose'
import { systemClock, type Clock, type TimerHandle } from '../clock.js'
import type { TokenSettings } from '../config/types.js'
import { OAuthError, ProxyError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Grant, TokenSet } from '../oauth/types.js'
import { LOGIN_REQUIRED_HINT, LOGIN_WAITING_HINT, rejectionOf, type RejectionContext } from '../oauth/rejection.js'
import type { Secret } from '../secret.js'
import { backoffMs, isUsable, refreshAtMono, remainingMs, safetyMarginMs, type AccessToken } from './schedule.js'
import type { CredentialState, TokenStore } from './store.js'

export type { AccessToken }

/** How often the wall clock is compared with the monotonic clock. */
export const CLOCK_CHECK_INTERVAL_MS = 1000
/** Forced refreshes (after an upstream 401) are at most this frequent. */
export const FORCED_REFRESH_COOLDOWN_MS = 5000
/** Retry interval for persisting a refresh token after a failed state write. */
export const PERSIST_RETRY_MS = 5000

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

export class TokenManager extends EventEmitter<{ refreshed: [RefreshEvent]; refresh_failed: [RefreshEvent] }> {
  readonly name: string
  readonly #grant: Grant
  readonly #store: TokenStore
  readonly #settings: TokenSettings
  readonly #log: Logger
  readonly #clock: Clock
  readonly #random: () => number
  readonly #bootstrap: Secret | undefined

  #current: AccessToken | undefined
  #refreshToken: string | undefined
  #refreshTokenObtainedAtMs: number | undefined
  #bootstrapTried = false
  #pending: Promise<AccessToken> | undefined
  #seq = 0
  #appliedSeq = 0
  #timer: TimerHandle | undefined
  #clockTimer: TimerHandle | undefined
  #lastWall = 0
  #lastMono = 0
  #health: ManagerHealth = 'starting'
  #terminal: ProxyError | undefined
  #failures = 0
  #consecutiveFailures = 0
  #refreshes = 0
  #nextAttemptAtMono = 0
  #nextRefreshAtMono: number | undefined
  #lastForcedAtMono = -Infinity
  #lastError: ManagerStatus['lastError']
  #lastRefreshAtMs: number | undefined
  #subject: string | undefined
  #scope: string | undefined
  #persistTimer: TimerHandle | undefined
  #stopped = false
  #pendingLogin: PendingLogin | undefined

  constructor(options: TokenManagerOptions) {
    super()
    this.name = options.name
    this.#grant = options.grant
    this.#store = options.store
    this.#settings = options.settings
    this.#log = options.logger.child({ credential: options.name })
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? Math.random
    this.#bootstrap = options.bootstrapRefreshToken
  }

  /** Loads state and starts the first refresh in the background. Never throws for IdP trouble. */
  start(): void {
    const saved = this.#store.load(this.name)
    if (saved?.refreshToken) {
      this.#refreshToken = saved.refreshToken
      this.#refreshTokenObtainedAtMs = saved.refreshTokenObtainedAtMs
      this.#subject = saved.subject
      if (this.#bootstrap && this.#bootstrap.reveal() !== saved.refreshToken) {
        this.#log.info(
          { event: 'token.bootstrap_deferred' },
          'state file has a newer refresh token; the configured one is kept as a fallback',
        )
      } else this.#bootstrapTried = true
    } else if (this.#bootstrap) {
      this.#refreshToken = this.#bootstrap.reveal()
      this.#bootstrapTried = true
      this.#log.info(
        { event: 'token.bootstrap_used', source: this.#bootstrap.source },
        'using the configured refresh token',
      )
    }
    this.#lastWall = this.#clock.now()
    this.#lastMono = this.#clock.monotonic()
    this.#armClockCheck()
    if (
      saved?.importedAccessToken &&
      this.#useImported(saved.importedAccessToken, saved.importedAccessTokenExpiresAtMs)
    ) {
      return
    }
    this.#refresh('startup').catch(() => {})
  }

  /** A console-issued access token (tokens.tok): served until it runs out; refreshed if the grant can. */
  #useImported(value: string, expiresAtMs: number | undefined): boolean {
    const now = this.#clock.now()
    if (expiresAtMs === undefined || expiresAtMs - now <= this.#settings.expirySafetyMs) return false
    const mono = this.#clock.monotonic()
    const token: AccessToken = {
      value,
      obtainedAtMs: now,
      expiresAtMs,
      obtainedAtMono: mono,
      expiresAtMono: mono + (expiresAtMs - now),
      lifetimeMs: expiresAtMs - now,
      seq: ++this.#seq,
    }
    this.#current = token
    this.#appliedSeq = token.seq
    this.#health = 'valid'
    this.#log.info(
      { event: 'token.imported_used', expiresInS: Math.round(token.lifetimeMs / 1000) },
      'using the imported access token',
    )
    if (!this.#grant.needsRefreshToken || this.#refreshToken) this.#schedule(token)
    return true
  }

  /** A token usable right now, without waiting, or undefined. The proxy's fast path. */
  peek(): AccessToken | undefined {
    const t = this.#current
    if (t === undefined) return undefined
    const mono = this.#clock.monotonic()
    if (!isUsable(t, this.#clock.now(), mono, this.#settings)) return undefined
    // a late timer (busy event loop) must not delay the refresh
    if (this.#nextRefreshAtMono !== undefined && mono >= this.#nextRefreshAtMono && !this.#pending) {
      this.#refresh('due').catch(() => {})
    }
    return t
  }

  /** A usable token, waiting for a refresh when none is held. Rejects with a ProxyError carrying the HTTP code. */
  async get(): Promise<AccessToken> {
    const t = this.peek()
    if (t) return t
    if (this.#terminal) throw this.#terminal
    if (!this.#pending && this.#clock.monotonic() < this.#nextAttemptAtMono) throw this.#unavailable()
    return this.#refresh('demand')
  }

  /**
   * The upstream rejected `rejected`: refresh once (joining any refresh in flight), unless a
   * newer token is already held or a forced refresh happened moments ago.
   */
  async forceRefresh(rejected: string): Promise<AccessToken> {
    const t = this.peek()
    if (t && t.value !== rejected) return t
    if (this.#terminal) throw this.#terminal
    if (this.#pending) return this.#pending
    const mono = this.#clock.monotonic()
    if (mono - this.#lastForcedAtMono < FORCED_REFRESH_COOLDOWN_MS && t) return t
    this.#lastForcedAtMono = mono
    return this.#refresh('upstream_401')
  }

  /** Waits for the refresh in flight, if any (tests, shutdown). */
  async settled(): Promise<void> {
    await this.#pending?.catch(() => {})
  }

  /** Shown in status while a headless device login waits; undefined clears it. */
  setPendingLogin(login: PendingLogin | undefined): void {
    this.#pendingLogin = login
    // while the code waits, callers are told where it is, not to stop the proxy
    if (this.#terminal?.code === 'login_required') this.#terminal = withLoginHint(this.#terminal, login)
  }

  /**
   * A refresh token obtained by a login while running: persisted first, then used at once.
   * Clears a terminal login_required state.
   */
  async adoptRefreshToken(refreshToken: string, subject?: string): Promise<AccessToken> {
    this.#refreshToken = refreshToken
    this.#refreshTokenObtainedAtMs = this.#clock.now()
    this.#bootstrapTried = true
    if (subject) this.#subject = subject
    await this.#persist()
    this.#terminal = undefined
    this.#nextAttemptAtMono = 0
    this.#consecutiveFailures = 0
    await this.settled()
    return this.#refresh('login')
  }

  /** Whether a usable token is held with at least `ms` left (at most a quarter of its lifetime). */
  hasTokenFor(ms: number): boolean {
    const t = this.peek()
    if (!t) return false
    return remainingMs(t, this.#clock.now(), this.#clock.monotonic()) >= Math.min(ms, t.lifetimeMs / 4)
  }

  get health(): ManagerHealth {
    return this.#health
  }

  status(): ManagerStatus {
    const now = this.#clock.now()
    const mono = this.#clock.monotonic()
    const t = this.#current
    const s: ManagerStatus = {
      credential: this.name,
      grant: this.#grant.name,
      health: this.#health,
      consecutiveFailures: this.#consecutiveFailures,
      refreshes: this.#refreshes,
      failures: this.#failures,
      stateWritePending: this.#persistTimer !== undefined,
    }
    if (this.#subject) s.subject = this.#subject
    if (this.#scope) s.scope = this.#scope
    if (t) {
      s.accessTokenExpiresAtMs = t.expiresAtMs
      s.accessTokenRemainingMs = Math.max(0, remainingMs(t, now, mono))
    }
    if (this.#lastRefreshAtMs !== undefined) s.lastRefreshAtMs = this.#lastRefreshAtMs
    if (this.#nextRefreshAtMono !== undefined) s.nextRefreshAtMs = now + Math.max(0, this.#nextRefreshAtMono - mono)
    if (this.#refreshTokenObtainedAtMs !== undefined) s.refreshTokenObtainedAtMs = this.#refreshTokenObtainedAtMs
    if (this.#lastError) s.lastError = this.#lastError
    if (this.#pendingLogin) s.login = this.#pendingLogin
    return s
  }

  /** Stops timers; waits for a refresh in flight so a rotated refresh token is persisted. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#clearTimer()
    if (this.#clockTimer) this.#clock.clearTimeout(this.#clockTimer)
    await this.settled()
    if (this.#persistTimer) {
      this.#clock.clearTimeout(this.#persistTimer)
      this.#persistTimer = undefined
      await this.#persist().catch(() => {})
    }
    this.#health = 'stopped'
  }

  #refresh(reason: string): Promise<AccessToken> {
    if (this.#pending) return this.#pending
    if (this.#stopped) return Promise.reject(this.#unavailable())
    const seq = ++this.#seq
    const p = this.#doRefresh(seq, reason).finally(() => {
      if (this.#pending === p) this.#pending = undefined
    })
    this.#pending = p
    return p
  }

  async #doRefresh(seq: number, reason: string): Promise<AccessToken> {
    this.#clearTimer()
    const usedRefreshToken = this.#refreshToken
    const startedMs = this.#clock.now()
    const startedMono = this.#clock.monotonic()
    let set: TokenSet
    try {
      set = await this.#grant.run({ refreshToken: usedRefreshToken })
    } catch (err) {
      return this.#onFailure(err, reason, startedMono, usedRefreshToken)
    }
    this.#describe(set)
    if (!this.#grant.needsRefreshToken) {
      // assertion, password and client-credentials grants renew without a refresh token: keep none on disk
    } else if (set.refreshToken && set.refreshToken !== usedRefreshToken) {
      // the old refresh token is dead from now on: keep the new one in memory, then on disk, before use
      this.#refreshToken = set.refreshToken
      this.#refreshTokenObtainedAtMs = this.#clock.now()
      this.#bootstrapTried = true
      await this.#persist().catch((err: unknown) => this.#onPersistFailure(err))
    } else if (this.#grant.needsRefreshToken && !set.refreshToken) {
      this.#log.warn(
        { event: 'token.refresh_token_not_rotated' },
        'the identity provider returned no new refresh token; keeping the current one',
      )
    }
    if (seq < this.#appliedSeq) {
      this.#log.debug({ event: 'token.late_response_ignored', seq }, 'a newer token is already held')
      return this.#current as AccessToken
    }
    const lifetimeMs = lifetimeOf(set, startedMs)
    const token: AccessToken = {
      value: set.accessToken,
      obtainedAtMs: startedMs,
      expiresAtMs: startedMs + lifetimeMs,
      obtainedAtMono: startedMono,
      expiresAtMono: startedMono + lifetimeMs,
      lifetimeMs,
      seq,
    }
    this.#appliedSeq = seq
    this.#current = token
    this.#health = 'valid'
    this.#terminal = undefined
    this.#consecutiveFailures = 0
    this.#nextAttemptAtMono = 0
    this.#refreshes++
    this.#lastRefreshAtMs = this.#clock.now()
    const durationMs = Math.round(this.#clock.monotonic() - startedMono)
    this.#schedule(token)
    this.#log.info(
      {
        event: 'token.refreshed',
        reason,
        grant: this.#grant.name,
        expiresInS: set.expiresInS,
        lifetimeMs,
        durationMs,
        rotated: Boolean(set.refreshToken),
      },
      'access token refreshed',
    )
    this.emit('refreshed', { credential: this.name, reason, durationMs, token })
    return token
  }

  #onFailure(err: unknown, reason: string, startedMono: number, usedRefreshToken: string | undefined): never {
    const durationMs = Math.round(this.#clock.monotonic() - startedMono)
    this.#failures++
    this.#consecutiveFailures++
    const error = toProxyError(err)
    this.#lastError = {
      code: err instanceof OAuthError ? err.oauthError : error.code,
      message: error.message,
      atMs: this.#clock.now(),
    }

    if (
      err instanceof OAuthError &&
      err.oauthError === 'invalid_grant' &&
      this.#canFallBackToBootstrap(usedRefreshToken)
    ) {
      this.#bootstrapTried = true
      this.#refreshToken = this.#bootstrap?.reveal()
      this.#log.warn(
        { event: 'token.bootstrap_fallback' },
        'stored refresh token was rejected; trying the configured one',
      )
      this.#nextAttemptAtMono = 0
      this.#timer = this.#clock.setTimeout(() => this.#refresh('bootstrap_fallback').catch(() => {}), 0)
      throw this.#unavailable(1)
    }

    const terminal = terminalError(err, this.#grant.name)
    if (terminal) {
      this.#terminal = terminal
      this.#health = terminal.code === 'login_required' ? 'login_required' : 'credential_rejected'
      this.#nextRefreshAtMono = undefined
      this.#log.error({ event: 'token.' + terminal.code, reason, err: error, hint: terminal.hint }, terminal.message)
      this.emit('refresh_failed', { credential: this.name, reason, durationMs, error: terminal })
      // keep serving the still-valid token; callers get the terminal error once it runs out
      throw terminal
    }

    const retryAfterS = error.retryAfterS
    let delay = backoffMs(this.#consecutiveFailures, this.#settings, this.#random, retryAfterS)
    const held = this.#current
    if (held && retryAfterS === undefined) {
      // while a token is still usable, retry at least twice before it runs out
      const usableMs =
        remainingMs(held, this.#clock.now(), this.#clock.monotonic()) - safetyMarginMs(held, this.#settings)
      if (usableMs > 0) delay = Math.min(delay, Math.max(this.#settings.backoffInitialMs, usableMs / 2))
    }
    this.#nextAttemptAtMono = this.#clock.monotonic() + delay
    this.#health = this.#current && this.peek() ? 'valid' : 'failing'
    this.#clearTimer()
    this.#nextRefreshAtMono = this.#nextAttemptAtMono
    this.#timer = this.#clock.setTimeout(() => this.#refresh('retry').catch(() => {}), delay)
    this.#log.warn(
      {
        event: 'token.refresh_failed',
        reason,
        attempt: this.#consecutiveFailures,
        retryInMs: Math.round(delay),
        durationMs,
        err: error,
      },
      'access token refresh failed; will retry',
    )
    this.emit('refresh_failed', { credential: this.name, reason, durationMs, error })
    throw this.#unavailable()
  }

  #canFallBackToBootstrap(used: string | undefined): boolean {
    return !this.#bootstrapTried && this.#bootstrap !== undefined && this.#bootstrap.reveal() !== used
  }

  #unavailable(retryAfterS?: number): ProxyError {
    const waitS = retryAfterS ?? Math.max(1, Math.ceil((this.#nextAttemptAtMono - this.#clock.monotonic()) / 1000))
    return new ProxyError('token_unavailable', `no valid access token for credential '${this.name}' right now`, {
      retryAfterS: waitS,
      hint: this.#lastError ? `last refresh failed: ${this.#lastError.message}` : 'a refresh is under way',
    })
  }

  #schedule(token: AccessToken): void {
    this.#clearTimer()
    if (this.#stopped) return
    const at = refreshAtMono(token, this.#settings, this.#random)
    this.#nextRefreshAtMono = at
    const delay = Math.max(0, at - this.#clock.monotonic())
    this.#timer = this.#clock.setTimeout(() => this.#refresh('scheduled').catch(() => {}), delay)
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Compares wall and monotonic progress; a jump (suspend/resume, clock step) forces a refresh. */
  #armClockCheck(): void {
    this.#clockTimer = this.#clock.setTimeout(() => {
      const wall = this.#clock.now()
      const mono = this.#clock.monotonic()
      const skew = wall - this.#lastWall - (mono - this.#lastMono)
      this.#lastWall = wall
      this.#lastMono = mono
      if (Math.abs(skew) > this.#settings.clockJumpMs && !this.#stopped) {
        this.#log.warn({ event: 'clock.jump_detected', jumpMs: Math.round(skew) }, 'wall clock jumped; refreshing now')
        if (!this.#terminal) {
          this.#nextAttemptAtMono = 0
          this.#refresh('clock_jump').catch(() => {})
        }
      }
      if (!this.#stopped) this.#armClockCheck()
    }, CLOCK_CHECK_INTERVAL_MS)
  }

  #describe(set: TokenSet): void {
    try {
      const claims = decodeJwt(set.accessToken)
      if (typeof claims.sub === 'string') this.#subject = claims.sub
      if (typeof claims.scope === 'string') this.#scope = claims.scope
    } catch {
      // opaque access token: nothing to show
    }
    if (set.scope) this.#scope = set.scope
  }

  async #persist(): Promise<void> {
    const state: CredentialState = { updatedAtMs: this.#clock.now() }
    if (this.#refreshToken) state.refreshToken = this.#refreshToken
    if (this.#refreshTokenObtainedAtMs !== undefined) state.refreshTokenObtainedAtMs = this.#refreshTokenObtainedAtMs
    if (this.#subject) state.subject = this.#subject
    await this.#store.save(this.name, state)
    if (this.#persistTimer) {
      this.#clock.clearTimeout(this.#persistTimer)
      this.#persistTimer = undefined
      this.#log.info({ event: 'state.write_recovered' }, 'state file written again')
    }
  }

  #onPersistFailure(err: unknown): void {
    this.#log.error(
      { event: 'state.write_failed', err: toProxyError(err) },
      'could not save the new refresh token; it is held in memory and saving is retried',
    )
    if (this.#persistTimer || this.#stopped) return
    const retry = (): void => {
      this.#persistTimer = this.#clock.setTimeout(() => {
        this.#persist().catch(() => retry())
      }, PERSIST_RETRY_MS)
    }
    retry()
  }
}

function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err
  return new ProxyError('idp_unreachable', (err as Error)?.message ?? String(err), { cause: err })
}

/** The login_required error with the hint for a waiting device login, or back to the usual one. */
function withLoginHint(err: ProxyError, login: PendingLogin | undefined): ProxyError {
  return new ProxyError('login_required', err.message, {
    cause: err.cause,
    hint: login ? LOGIN_WAITING_HINT : LOGIN_REQUIRED_HINT,
  })
}

/** Errors retrying cannot fix, as the error callers receive. */
function terminalError(err: unknown, grant: string): ProxyError | undefined {
  const rejected = rejectionOf(err, grant as RejectionContext)
  if (rejected) return rejected
  if (err instanceof ProxyError && err.code === 'login_required') return err
  return undefined
}

/** How much earlier than expires_in says an `exp` claim may make a token expire (whole-second rounding). */
export const EXP_ROUNDING_TOLERANCE_MS = 1500

/**
 * The token's lifetime counted from when the request was sent. expires_in is authoritative, but an
 * identity provider that rounds `iat` down to a whole second issues an `exp` up to a second before
 * send time + expires_in; OAC would then refuse the token that much early. When the JWT's exp is
 * earlier by no more than the rounding tolerance, it wins. A larger gap is clock skew between this
 * host and the IdP, where exp says nothing about the real lifetime, so expires_in stays.
 */
export function lifetimeOf(set: TokenSet, sentAtMs: number): number {
  const lifetimeMs = set.expiresInS * 1000
  let exp: unknown
  try {
    exp = decodeJwt(set.accessToken).exp
  } catch {
    return lifetimeMs // opaque token
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return lifetimeMs
  const earlierByMs = sentAtMs + lifetimeMs - exp * 1000
  if (earlierByMs <= 0 || earlierByMs > EXP_ROUNDING_TOLERANCE_MS) return lifetimeMs
  return Math.max(lifetimeMs - earlierByMs, lifetimeMs / 2)
}
