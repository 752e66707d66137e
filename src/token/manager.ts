// Token manager: one per credential; proactive refresh, single flight, backoff, clock-jump detection.
import { EventEmitter } from 'node:events'
import { systemClock, type Clock } from '../shared/clock.js'
import type { TokenSettings } from '../config/types.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { TokenSet } from '../oauth/types.js'
import { withLoginHint } from './failure.js'
import { lifetimeOf } from './lifetime.js'
import type {
  ManagerEvents,
  ManagerHealth,
  ManagerStatus,
  PendingLogin,
  RefreshEvent,
  TokenManagerOptions,
} from './manager-types.js'
import { SavedCredential, savedAccessTokens } from './persistence.js'
import { Refresher } from './refresh.js'
import { remainingMs, type AccessToken } from './schedule.js'
import { ClockJumpWatch } from './scheduler.js'

export type { AccessToken }
export type { ManagerHealth, ManagerStatus, PendingLogin, RefreshEvent, TokenManagerOptions }
export { lifetimeOf }

/** Forced refreshes (after an upstream 401) are at most this frequent. */
export const FORCED_REFRESH_COOLDOWN_MS = 5000

export class TokenManager extends EventEmitter<ManagerEvents> {
  readonly name: string
  readonly #grantName: string
  readonly #settings: TokenSettings
  readonly #log: Logger
  readonly #clock: Clock
  readonly #saved: SavedCredential
  /** The token served and the refreshes that renew it. */
  readonly #r: Refresher
  readonly #clockWatch: ClockJumpWatch
  #lastForcedAtMono = -Infinity
  #pendingLogin: PendingLogin | undefined
  readonly #loginHint: string | undefined
  #loaded = false

  constructor(options: TokenManagerOptions) {
    super()
    this.name = options.name
    this.#grantName = options.grant.name
    this.#settings = options.settings
    this.#log = options.logger.child({ credential: options.name })
    this.#clock = options.clock ?? systemClock
    this.#loginHint = options.loginHint
    const random = options.random ?? Math.random
    this.#saved = new SavedCredential({
      name: options.name,
      store: options.store,
      clock: this.#clock,
      log: this.#log,
      bootstrap: options.bootstrapRefreshToken,
      isStopped: () => this.#r.stopped,
    })
    this.#r = new Refresher({
      name: options.name,
      grant: options.grant,
      settings: this.#settings,
      clock: this.#clock,
      random,
      log: this.#log,
      saved: this.#saved,
      events: this,
      ...(options.loginHint ? { loginHint: options.loginHint } : {}),
    })
    this.#clockWatch = new ClockJumpWatch(this.#clock, this.#settings.clockJumpMs, (skew) => this.#r.onClockJump(skew))
  }

  /** Reads the saved state (no network); start() does it too. serve loads, binds its port, then starts. */
  load(): void {
    if (this.#loaded) return
    this.#loaded = true
    this.#saved.load()
  }

  /**
   * Loads state (unless done) and starts the first refresh in the background. Never throws for IdP trouble.
   * `useSaved: false` skips the access token saved by login or token (a command that judges it itself).
   */
  start(options: { useSaved?: boolean } = {}): void {
    this.load()
    const saved = this.#saved.saved()
    this.#clockWatch.start()
    // an imported access token first, then the one saved with the newest refresh token
    for (const token of savedAccessTokens(saved, options.useSaved !== false)) {
      if (this.#r.hold(token.value, token.expiresAtMs, token.kind)) return
    }
    this.#r.refresh('startup').catch(() => {})
  }

  /** A token usable right now, without waiting, or undefined. The proxy's fast path. */
  peek(): AccessToken | undefined {
    return this.#r.peek()
  }

  /** A usable token, waiting for a refresh when none is held. Rejects with a ProxyError carrying the HTTP code. */
  async get(): Promise<AccessToken> {
    const t = this.peek()
    if (t) return t
    if (this.#r.terminal) throw this.#r.terminal
    if (!this.#r.pending) {
      // a caller's request may start an attempt, at most every demandRetryMs and never before Retry-After
      if (this.#clock.monotonic() < this.#r.retry.demandAllowedAtMono()) throw this.#r.unavailable()
      this.#r.refresh('demand').catch(() => {})
    }
    return this.#r.waitForPending()
  }

  /**
   * The upstream rejected `rejected`: refresh once (joining any refresh in flight), unless a
   * newer token is already held or a forced refresh happened moments ago.
   */
  async forceRefresh(rejected: string): Promise<AccessToken> {
    const t = this.peek()
    if (t && t.value !== rejected) return t
    if (this.#r.terminal) throw this.#r.terminal
    if (this.#r.pending) return this.#r.waitForPending()
    const mono = this.#clock.monotonic()
    if (mono - this.#lastForcedAtMono < FORCED_REFRESH_COOLDOWN_MS && t) return t
    this.#lastForcedAtMono = mono
    this.#r.refresh('upstream_401', rejected).catch(() => {})
    return this.#r.waitForPending()
  }

  /** True while a call to the token endpoint is unresolved (its answer may still come). */
  get refreshInFlight(): boolean {
    return this.#r.pending !== undefined
  }

  /** Waits for the refresh in flight, if any (tests, shutdown). */
  async settled(): Promise<void> {
    await this.#r.pending?.catch(() => {})
  }

  /** Shown in status while a headless device login waits; undefined clears it. */
  setPendingLogin(login: PendingLogin | undefined): void {
    this.#pendingLogin = login
    // while the code waits, callers are told where it is, not to stop the proxy
    if (this.#r.terminal?.code === 'login_required')
      this.#r.terminal = withLoginHint(this.#r.terminal, login, this.#loginHint)
  }

  /**
   * The whole answer of a login while running: its refresh token is persisted first, then its access
   * token is served at once (no second call, no extra rotation). Clears a terminal login_required
   * state. `sentAtMs` is when the login's token call was sent (the lifetime counts from then).
   */
  async adoptLoginTokens(set: TokenSet, sentAtMs: number, subject?: string): Promise<AccessToken> {
    if (!set.refreshToken) throw new ProxyError('no_refresh_token', 'the login returned no refresh token')
    await this.#adoptLogin(set.refreshToken, subject)
    return this.#r.applyObtained(set, sentAtMs)
  }

  /**
   * A refresh token another replica stored without an access token (a login or an import there): held, a terminal
   * state left, and a refresh started (through the shared store, so one replica of the fleet calls).
   */
  async adoptSharedRefreshToken(refreshToken: string): Promise<void> {
    if (this.#saved.refreshToken === refreshToken) return
    this.#saved.replace(refreshToken)
    this.#r.lostAnswerFor = undefined
    this.#r.terminal = undefined
    this.#r.retry.restart()
    await this.#r.refresh('login_elsewhere').catch(() => {})
  }

  /**
   * A token another replica stored in the shared store (announced): served at once like one this replica obtained,
   * its refresh token held (the store already has it). Clears a terminal state: a login on any replica signs in all.
   */
  async adoptShared(set: TokenSet, obtainedAtMs: number): Promise<AccessToken> {
    if (set.refreshToken && set.refreshToken !== this.#saved.refreshToken) this.#saved.replace(set.refreshToken)
    this.#r.lostAnswerFor = undefined
    this.#r.terminal = undefined
    this.#r.retry.restart()
    return this.#r.applyObtained(set, obtainedAtMs, 'adopted')
  }

  async #adoptLogin(refreshToken: string, subject: string | undefined): Promise<void> {
    this.#saved.replace(refreshToken)
    this.#r.lostAnswerFor = undefined
    if (subject) this.#saved.subject = subject
    await this.#saved.persist()
    this.#r.terminal = undefined
    this.#r.retry.restart()
    await this.settled()
  }

  /** Whether a usable token is held with at least `ms` left (at most a quarter of its lifetime). */
  hasTokenFor(ms: number): boolean {
    const t = this.peek()
    if (!t) return false
    return remainingMs(t, this.#clock.now(), this.#clock.monotonic()) >= Math.min(ms, t.lifetimeMs / 4)
  }

  get health(): ManagerHealth {
    return this.#r.health
  }

  status(): ManagerStatus {
    const r = this.#r
    const now = this.#clock.now()
    const mono = this.#clock.monotonic()
    const t = r.current
    const s: ManagerStatus = {
      credential: this.name,
      grant: this.#grantName,
      health: r.health,
      consecutiveFailures: r.retry.consecutiveFailures,
      refreshes: r.refreshes,
      failures: r.failures,
      stateWritePending: this.#saved.writePending,
    }
    if (this.#saved.subject) s.subject = this.#saved.subject
    if (r.scope) s.scope = r.scope
    if (t) {
      s.accessTokenExpiresAtMs = t.expiresAtMs
      s.accessTokenRemainingMs = Math.max(0, remainingMs(t, now, mono))
    }
    if (r.lastRefreshAtMs !== undefined) s.lastRefreshAtMs = r.lastRefreshAtMs
    const dueAt = r.timer.nextRefreshAtMono
    if (dueAt !== undefined) s.nextRefreshAtMs = now + Math.max(0, dueAt - mono)
    const obtainedAtMs = this.#saved.refreshTokenObtainedAtMs
    if (obtainedAtMs !== undefined) s.refreshTokenObtainedAtMs = obtainedAtMs
    if (r.lastError) s.lastError = r.lastError
    if (this.#pendingLogin) s.login = this.#pendingLogin
    return s
  }

  /** Stops timers; waits for a refresh in flight so a rotated refresh token is persisted. */
  async stop(): Promise<void> {
    this.#r.stopped = true
    this.#r.timer.clear()
    this.#clockWatch.stop()
    if (this.#r.pending && this.#clock.monotonic() - this.#r.pendingSinceMono > this.#settings.idpTimeoutMs) {
      this.#log.warn(
        { event: 'token.stop_waiting' },
        'waiting for the answer to a slow refresh before stopping: it may carry the only valid refresh token',
      )
    }
    await this.settled()
    await this.#saved.flush()
    this.#r.health = 'stopped'
  }
}
