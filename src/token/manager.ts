// Token manager: one per credential; proactive refresh, single flight, backoff, clock-jump detection.
import { EventEmitter } from 'node:events'
import { decodeJwt } from 'jose'
import { systemClock, type Clock, type TimerHandle } from '../shared/clock.js'
import type { TokenSettings } from '../config/types.js'
import { OAuthError, ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { answerMayBeLost } from '../oauth/token-endpoint.js'
import type { Grant, TokenSet } from '../oauth/types.js'
import { LOGIN_REQUIRED_HINT, LOGIN_WAITING_HINT, rejectionOf, type RejectionContext } from '../oauth/rejection.js'
import type { Secret } from '../shared/secret.js'
import { backoffMs, isUsable, refreshAtMono, remainingMs, safetyMarginMs, type AccessToken } from './schedule.js'
import type { CredentialState, TokenStore } from './store/types.js'

export type { AccessToken }

/** How often the wall clock is compared with the monotonic clock. */
export const CLOCK_CHECK_INTERVAL_MS = 1000
/** Forced refreshes (after an upstream 401) are at most this frequent. */
export const FORCED_REFRESH_COOLDOWN_MS = 5000
/** Retry interval for persisting a refresh token after a failed state write. */
export const PERSIST_RETRY_MS = 5000
/**
 * While a held token nears its usable end, one retry is planned this long before it, even when a
 * Retry-After asks for a longer wait: a renewed token must arrive before callers are refused.
 */
export const LAST_CHANCE_LEAD_MS = 500
/**
 * Retry-After of login_required and credential_rejected: only a person can fix them (a login, the
 * configuration), so retrying sooner than this cannot help; the error code says it is not transient.
 */
export const TERMINAL_RETRY_AFTER_S = 60

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

export class TokenManager extends EventEmitter<{
  refreshed: [RefreshEvent]
  refresh_failed: [RefreshEvent]
  /** An access token obtained earlier (imported, or saved by login or token) is served without a refresh. */
  adopted: [{ credential: string; token: AccessToken }]
}> {
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
  /** When the background retry timer fires (0: none planned). */
  #nextAttemptAtMono = 0
  /** When the last attempt since the last success started; callers' requests may start another demandRetryMs later. */
  #lastAttemptAtMono = -Infinity
  /** No attempt before this (the identity provider's Retry-After). */
  #notBeforeMono = 0
  /** Consecutive failures while no usable token was held: only these lengthen the backoff. */
  #outageFailures = 0
  /** When the refresh in flight started (callers stop waiting for it idpTimeoutMs later). */
  #pendingSinceMono = 0
  /** The refresh token sent in a call whose answer was lost (the server may have rotated it). */
  #lostAnswerFor: string | undefined
  #nextRefreshAtMono: number | undefined
  #lastForcedAtMono = -Infinity
  #lastError: ManagerStatus['lastError']
  #lastRefreshAtMs: number | undefined
  #subject: string | undefined
  #scope: string | undefined
  #persistTimer: TimerHandle | undefined
  #stopped = false
  #pendingLogin: PendingLogin | undefined
  #loaded = false

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

  /** Reads the saved state (no network); start() does it too. serve loads, binds its port, then starts. */
  load(): void {
    if (this.#loaded) return
    this.#loaded = true
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
  }

  /**
   * Loads state (unless done) and starts the first refresh in the background. Never throws for IdP trouble.
   * `useSaved: false` skips the access token saved by login or token (a command that judges it itself).
   */
  start(options: { useSaved?: boolean } = {}): void {
    this.load()
    const saved = this.#store.load(this.name)
    this.#lastWall = this.#clock.now()
    this.#lastMono = this.#clock.monotonic()
    this.#armClockCheck()
    if (
      saved?.importedAccessToken &&
      this.#useImported(saved.importedAccessToken, saved.importedAccessTokenExpiresAtMs)
    ) {
      return
    }
    // the access token saved with the newest refresh token (by login or token): no rotation at start-up
    // while it has time left, which also keeps a restart loop from rotating on every start
    if (
      options.useSaved !== false &&
      saved?.accessToken &&
      this.#useImported(saved.accessToken, saved.accessTokenExpiresAtMs, 'saved')
    ) {
      return
    }
    this.#refresh('startup').catch(() => {})
  }

  /** A console-issued access token (tokens.tok): served until it runs out; refreshed if the grant can. */
  #useImported(value: string, expiresAtMs: number | undefined, kind: 'imported' | 'saved' = 'imported'): boolean {
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
      { event: `token.${kind}_used`, expiresInS: Math.round(token.lifetimeMs / 1000) },
      `using the ${kind} access token`,
    )
    this.emit('adopted', { credential: this.name, token })
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
    if (!this.#pending) {
      // a caller's request may start an attempt, at most every demandRetryMs and never before Retry-After
      if (this.#clock.monotonic() < this.#demandAllowedAtMono()) throw this.#unavailable()
      this.#refresh('demand').catch(() => {})
    }
    return this.#waitForPending()
  }

  /**
   * The refresh in flight, waited for at most idpTimeoutMs from its start. The call itself goes on
   * (its answer may carry the only valid refresh token); callers get token_unavailable meanwhile.
   */
  #waitForPending(): Promise<AccessToken> {
    const pending = this.#pending
    if (!pending) return Promise.reject(this.#unavailable())
    const leftMs = this.#pendingSinceMono + this.#settings.idpTimeoutMs - this.#clock.monotonic()
    if (leftMs <= 0) return Promise.reject(this.#slowAnswer())
    return new Promise<AccessToken>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => reject(this.#slowAnswer()), leftMs)
      pending.then(
        (token) => {
          this.#clock.clearTimeout(timer)
          resolve(token)
        },
        (err: unknown) => {
          this.#clock.clearTimeout(timer)
          reject(err as Error)
        },
      )
    })
  }

  #slowAnswer(): ProxyError {
    return new ProxyError('token_unavailable', `no valid access token for credential '${this.name}' right now`, {
      retryAfterS: Math.max(1, Math.ceil(this.#settings.demandRetryMs / 1000)),
      hint: 'the identity provider is slow to answer a refresh; it is still waited for',
    })
  }

  /** When a caller's request may start the next attempt. */
  #demandAllowedAtMono(): number {
    const demandAt = Math.max(this.#lastAttemptAtMono + this.#settings.demandRetryMs, this.#notBeforeMono)
    return this.#nextAttemptAtMono > 0 ? Math.min(this.#nextAttemptAtMono, demandAt) : demandAt
  }

  /**
   * The upstream rejected `rejected`: refresh once (joining any refresh in flight), unless a
   * newer token is already held or a forced refresh happened moments ago.
   */
  async forceRefresh(rejected: string): Promise<AccessToken> {
    const t = this.peek()
    if (t && t.value !== rejected) return t
    if (this.#terminal) throw this.#terminal
    if (this.#pending) return this.#waitForPending()
    const mono = this.#clock.monotonic()
    if (mono - this.#lastForcedAtMono < FORCED_REFRESH_COOLDOWN_MS && t) return t
    this.#lastForcedAtMono = mono
    this.#refresh('upstream_401').catch(() => {})
    return this.#waitForPending()
  }

  /** Waits for the refresh in flight, if any (tests, shutdown). */
  /** True while a call to the token endpoint is unresolved (its answer may still come). */
  get refreshInFlight(): boolean {
    return this.#pending !== undefined
  }

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
   * The whole answer of a login while running: its refresh token is persisted first, then its access
   * token is served at once (no second call, no extra rotation). Clears a terminal login_required
   * state. `sentAtMs` is when the login's token call was sent (the lifetime counts from then).
   */
  async adoptLoginTokens(set: TokenSet, sentAtMs: number, subject?: string): Promise<AccessToken> {
    if (!set.refreshToken) throw new ProxyError('no_refresh_token', 'the login returned no refresh token')
    await this.#adoptLogin(set.refreshToken, subject)
    const seq = ++this.#seq
    const elapsedMs = Math.max(0, this.#clock.now() - sentAtMs)
    return this.#apply(set, seq, 'login', sentAtMs, this.#clock.monotonic() - elapsedMs, set.refreshToken)
  }

  async #adoptLogin(refreshToken: string, subject: string | undefined): Promise<void> {
    this.#refreshToken = refreshToken
    this.#refreshTokenObtainedAtMs = this.#clock.now()
    this.#bootstrapTried = true
    this.#lostAnswerFor = undefined
    if (subject) this.#subject = subject
    await this.#persist()
    this.#terminal = undefined
    this.#nextAttemptAtMono = 0
    this.#notBeforeMono = 0
    this.#consecutiveFailures = 0
    this.#outageFailures = 0
    await this.settled()
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
    if (this.#pending && this.#clock.monotonic() - this.#pendingSinceMono > this.#settings.idpTimeoutMs) {
      this.#log.warn(
        { event: 'token.stop_waiting' },
        'waiting for the answer to a slow refresh before stopping: it may carry the only valid refresh token',
      )
    }
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
    this.#pendingSinceMono = this.#clock.monotonic()
    this.#lastAttemptAtMono = this.#pendingSinceMono
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
    // the longest wait for an answer: a refresh_token call is not cut short at idpTimeoutMs, as the
    // server may have rotated the refresh token already (callers stop waiting; see #waitForPending)
    const answerWait = new AbortController()
    const answerTimer = this.#clock.setTimeout(
      () => answerWait.abort(new Error('no answer in time')),
      this.#grant.needsRefreshToken ? this.#settings.refreshAnswerTimeoutMs : this.#settings.idpTimeoutMs,
    )
    let set: TokenSet
    try {
      set = await this.#grant.run({ refreshToken: usedRefreshToken, signal: answerWait.signal })
    } catch (err) {
      if (this.#grant.needsRefreshToken && usedRefreshToken && (answerWait.signal.aborted || answerMayBeLost(err))) {
        // the server may have processed the call: if it rotated, the held refresh token is now dead
        this.#lostAnswerFor = usedRefreshToken
        if (answerWait.signal.aborted) {
          this.#log.warn(
            {
              event: 'token.refresh_answer_timeout',
              waitedMs: Math.round(this.#clock.monotonic() - startedMono),
            },
            'the identity provider never answered a refresh call; retrying with the held refresh token',
          )
        }
      }
      return this.#onFailure(err, reason, startedMono, usedRefreshToken)
    } finally {
      this.#clock.clearTimeout(answerTimer)
    }
    this.#lostAnswerFor = undefined
    return this.#apply(set, seq, reason, startedMs, startedMono, usedRefreshToken)
  }

  /** Applies a token response: persists a rotated refresh token first, then serves the access token. */
  async #apply(
    set: TokenSet,
    seq: number,
    reason: string,
    startedMs: number,
    startedMono: number,
    usedRefreshToken?: string,
  ): Promise<AccessToken> {
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
    this.#outageFailures = 0
    this.#nextAttemptAtMono = 0
    this.#notBeforeMono = 0
    // the rate limit on callers' attempts applies after failures only
    this.#lastAttemptAtMono = -Infinity
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
      this.#nextAttemptAtMono = 0
      if (terminal.code === 'login_required' && usedRefreshToken && usedRefreshToken === this.#lostAnswerFor) {
        this.#log.error(
          { event: 'token.refresh_answer_lost', reason, err: error, hint: terminal.hint },
          'the answer to an earlier refresh call was lost (dropped connection or no answer) after the identity provider had rotated the refresh token; the previous refresh token is now refused, so a new login is needed',
        )
      } else {
        this.#log.error({ event: 'token.' + terminal.code, reason, err: error, hint: terminal.hint }, terminal.message)
      }
      this.emit('refresh_failed', { credential: this.name, reason, durationMs, error: terminal })
      // keep serving the still-valid token; callers get the terminal error once it runs out
      throw terminal
    }

    const retryAfterS = error.retryAfterS
    const retryAfterMs = (retryAfterS ?? 0) * 1000
    const held = this.#current
    const usableMs = held
      ? remainingMs(held, this.#clock.now(), this.#clock.monotonic()) - safetyMarginMs(held, this.#settings)
      : 0
    let delay: number
    if (usableMs > 0) {
      // while a token is still usable: retry at least twice before it runs out, without lengthening
      // the backoff an outage would start with once it has run out
      this.#outageFailures = 0
      const paced = Math.min(
        backoffMs(this.#consecutiveFailures, this.#settings, this.#random),
        Math.max(this.#settings.backoffInitialMs, usableMs / 2),
      )
      delay = Math.max(paced, retryAfterMs)
      // one attempt lands before the token's usable end, even if Retry-After asks for longer
      const lastChanceMs = usableMs - LAST_CHANCE_LEAD_MS
      if (delay > lastChanceMs && lastChanceMs > 0) delay = lastChanceMs
    } else {
      // nothing usable held: background retries back off from backoffInitialMs; callers' requests may
      // start attempts sooner (every demandRetryMs), so recovery follows the identity provider
      this.#outageFailures++
      delay = backoffMs(this.#outageFailures, this.#settings, this.#random, retryAfterS)
    }
    this.#notBeforeMono = this.#clock.monotonic() + retryAfterMs
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

  /** token_unavailable with Retry-After: when a caller's request may start the next attempt. */
  #unavailable(retryAfterS?: number): ProxyError {
    const waitS = retryAfterS ?? Math.max(1, Math.ceil((this.#demandAllowedAtMono() - this.#clock.monotonic()) / 1000))
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
    ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }),
  })
}

/** Errors retrying cannot fix, as the error callers receive (with a Retry-After callers can act on). */
function terminalError(err: unknown, grant: string): ProxyError | undefined {
  const rejected =
    rejectionOf(err, grant as RejectionContext) ??
    (err instanceof ProxyError && err.code === 'login_required' ? err : undefined)
  if (!rejected || rejected.retryAfterS !== undefined) return rejected
  return new ProxyError(rejected.code, rejected.message, {
    cause: rejected.cause,
    ...(rejected.hint ? { hint: rejected.hint } : {}),
    retryAfterS: TERMINAL_RETRY_AFTER_S,
  })
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
