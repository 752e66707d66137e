// The refresh cycle of one credential: one call in flight, its answer applied, or its failure retried or made terminal.
import type { EventEmitter } from 'node:events'
import type { TokenSettings } from '../config/types.js'
import type { Clock } from '../shared/clock.js'
import { OAuthError, type ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { answerMayBeLost } from '../oauth/token-endpoint.js'
import type { Grant, TokenSet } from '../oauth/types.js'
import { slowAnswerError, terminalError, toProxyError, unavailableError } from './failure.js'
import { claimsOf, heldToken, lifetimeOf } from './lifetime.js'
import type { ManagerEvents, ManagerHealth, ManagerStatus } from './manager-types.js'
import type { SavedCredential } from './persistence.js'
import { RetryPacing } from './retry.js'
import { isUsable, remainingMs, safetyMarginMs, type AccessToken } from './schedule.js'
import { RefreshTimer, waitAtMost } from './scheduler.js'

export interface RefresherOptions {
  name: string
  grant: Grant
  settings: TokenSettings
  clock: Clock
  random: () => number
  log: Logger
  saved: SavedCredential
  events: EventEmitter<ManagerEvents>
  /** The hint of login_required in this process, when not the default one. */
  loginHint?: string
}

/** The token a manager serves and the refreshes that renew it; the manager reads its state for status. */
export class Refresher {
  current: AccessToken | undefined
  health: ManagerHealth = 'starting'
  /** The error callers get once the held token runs out, when retrying cannot help. */
  terminal: ProxyError | undefined
  failures = 0
  refreshes = 0
  lastError: ManagerStatus['lastError']
  lastRefreshAtMs: number | undefined
  scope: string | undefined
  /** The refresh token sent in a call whose answer was lost (the server may have rotated it). */
  lostAnswerFor: string | undefined
  pending: Promise<AccessToken> | undefined
  /** When the refresh in flight started (callers stop waiting for it idpTimeoutMs later). */
  pendingSinceMono = 0
  stopped = false
  readonly retry: RetryPacing
  readonly timer: RefreshTimer
  #seq = 0
  #appliedSeq = 0
  readonly #o: RefresherOptions

  constructor(options: RefresherOptions) {
    this.#o = options
    this.retry = new RetryPacing(options.settings, options.random)
    this.timer = new RefreshTimer(options.clock)
  }

  /** A token usable right now, without waiting, or undefined; starts a refresh a late timer missed. */
  peek(): AccessToken | undefined {
    const t = this.current
    if (t === undefined) return undefined
    const mono = this.#o.clock.monotonic()
    if (!isUsable(t, this.#o.clock.now(), mono, this.#o.settings)) return undefined
    // a late timer (busy event loop) must not delay the refresh
    const dueAt = this.timer.nextRefreshAtMono
    if (dueAt !== undefined && mono >= dueAt && !this.pending) {
      this.refresh('due').catch(() => {})
    }
    return t
  }

  /** Serves an access token obtained earlier (imported, or saved by login or token) while it has time left. */
  hold(value: string, expiresAtMs: number | undefined, kind: 'imported' | 'saved'): boolean {
    const { clock, settings, grant, log } = this.#o
    const now = clock.now()
    if (expiresAtMs === undefined || expiresAtMs - now <= settings.expirySafetyMs) return false
    const token = { ...heldToken(value, now, clock.monotonic(), expiresAtMs - now, ++this.#seq), expiresAtMs }
    this.current = token
    this.#appliedSeq = token.seq
    this.health = 'valid'
    // status shows who the held token is for and the scope it carries, as for one obtained here
    this.#describe({ accessToken: value })
    log.info(
      { event: `token.${kind}_used`, expiresInS: Math.round(token.lifetimeMs / 1000) },
      `using the ${kind} access token`,
    )
    this.#o.events.emit('adopted', { credential: this.#o.name, token })
    if (!grant.needsRefreshToken || this.#o.saved.refreshToken) this.#schedule(token)
    return true
  }

  /**
   * The refresh in flight, waited for at most idpTimeoutMs from its start. The call itself goes on
   * (its answer may carry the only valid refresh token); callers get token_unavailable meanwhile.
   */
  waitForPending(): Promise<AccessToken> {
    const pending = this.pending
    if (!pending) return Promise.reject(this.unavailable())
    const { clock, settings, name } = this.#o
    const slow = (): ProxyError => slowAnswerError(name, settings.demandRetryMs)
    const leftMs = this.pendingSinceMono + settings.idpTimeoutMs - clock.monotonic()
    if (leftMs <= 0) return Promise.reject(slow())
    return waitAtMost(clock, pending, leftMs, slow)
  }

  /** Starts a refresh, or joins the one in flight; `rejected` is the access token the upstream refused, if any. */
  refresh(reason: string, rejected?: string): Promise<AccessToken> {
    if (this.pending) return this.pending
    if (this.stopped) return Promise.reject(this.unavailable())
    const seq = ++this.#seq
    this.pendingSinceMono = this.#o.clock.monotonic()
    this.retry.lastAttemptAtMono = this.pendingSinceMono
    const p = this.#doRefresh(seq, reason, rejected).finally(() => {
      if (this.pending === p) this.pending = undefined
    })
    this.pending = p
    return p
  }

  /**
   * Applies a token response obtained elsewhere, sent at `sentAtMs`, as if it were a refresh: a login's answer, or a
   * token another replica stored (`adopted`). Its refresh token is already held and saved.
   */
  applyObtained(set: TokenSet, sentAtMs: number, reason: 'login' | 'adopted' = 'login'): Promise<AccessToken> {
    const { clock } = this.#o
    const seq = ++this.#seq
    const elapsedMs = Math.max(0, clock.now() - sentAtMs)
    return this.#apply(set, seq, reason, sentAtMs, clock.monotonic() - elapsedMs, set.refreshToken)
  }

  async #doRefresh(seq: number, reason: string, rejected: string | undefined): Promise<AccessToken> {
    const { clock, settings, grant } = this.#o
    this.timer.clear()
    const usedRefreshToken = this.#o.saved.refreshToken
    const startedMs = clock.now()
    const startedMono = clock.monotonic()
    // the longest wait for an answer: a refresh_token call is not cut short at idpTimeoutMs, as the
    // server may have rotated the refresh token already (callers stop waiting; see waitForPending)
    const answerWait = new AbortController()
    const answerTimer = clock.setTimeout(
      () => answerWait.abort(new Error('no answer in time')),
      grant.needsRefreshToken ? settings.refreshAnswerTimeoutMs : settings.idpTimeoutMs,
    )
    let set: TokenSet
    try {
      set = await grant.run({
        refreshToken: usedRefreshToken,
        signal: answerWait.signal,
        ...(rejected === undefined ? {} : { rejected }),
      })
    } catch (err) {
      if (grant.needsRefreshToken && usedRefreshToken && (answerWait.signal.aborted || answerMayBeLost(err))) {
        this.#noteLostAnswer(usedRefreshToken, answerWait.signal.aborted, startedMono)
      }
      return this.#onFailure(err, reason, startedMono, usedRefreshToken)
    } finally {
      clock.clearTimeout(answerTimer)
    }
    this.lostAnswerFor = undefined
    return this.#apply(set, seq, reason, startedMs, startedMono, usedRefreshToken)
  }

  /** The server may have processed a call whose answer never came: if it rotated, `used` is now dead. */
  #noteLostAnswer(used: string, timedOut: boolean, startedMono: number): void {
    this.lostAnswerFor = used
    if (!timedOut) return
    this.#o.log.warn(
      { event: 'token.refresh_answer_timeout', waitedMs: Math.round(this.#o.clock.monotonic() - startedMono) },
      'the identity provider never answered a refresh call; retrying with the held refresh token',
    )
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
    await this.#keepRefreshToken(set, usedRefreshToken)
    if (seq < this.#appliedSeq) {
      this.#o.log.debug({ event: 'token.late_response_ignored', seq }, 'a newer token is already held')
      return this.current as AccessToken
    }
    const lifetimeMs = lifetimeOf(set, startedMs)
    const token = heldToken(set.accessToken, startedMs, startedMono, lifetimeMs, seq)
    this.#serve(token)
    const durationMs = Math.round(this.#o.clock.monotonic() - startedMono)
    this.#schedule(token)
    this.#o.log.info(
      {
        event: 'token.refreshed',
        reason,
        grant: this.#o.grant.name,
        expiresInS: set.expiresInS,
        lifetimeMs,
        durationMs,
        rotated: Boolean(set.refreshToken),
      },
      'access token refreshed',
    )
    this.#o.events.emit('refreshed', { credential: this.#o.name, reason, durationMs, token })
    return token
  }

  /** A rotated refresh token is kept in memory, then on disk, before the access token that came with it is used. */
  async #keepRefreshToken(set: TokenSet, usedRefreshToken: string | undefined): Promise<void> {
    if (!this.#o.grant.needsRefreshToken) {
      // assertion, password and client-credentials grants renew without a refresh token: keep none on disk
    } else if (set.refreshToken && set.refreshToken !== usedRefreshToken) {
      // the old refresh token is dead from now on: keep the new one in memory, then on disk, before use
      this.#o.saved.replace(set.refreshToken)
      await this.#o.saved.persistOrRetry()
    } else if (this.#o.grant.needsRefreshToken && !set.refreshToken) {
      this.#o.log.warn(
        { event: 'token.refresh_token_not_rotated' },
        'the identity provider returned no new refresh token; keeping the current one',
      )
    }
  }

  /** `token` becomes the one served: the manager is healthy again. */
  #serve(token: AccessToken): void {
    this.#appliedSeq = token.seq
    this.current = token
    this.health = 'valid'
    this.terminal = undefined
    this.retry.succeeded()
    this.refreshes++
    this.lastRefreshAtMs = this.#o.clock.now()
  }

  #onFailure(err: unknown, reason: string, startedMono: number, usedRefreshToken: string | undefined): never {
    const durationMs = Math.round(this.#o.clock.monotonic() - startedMono)
    const error = this.#recordFailure(err)
    if (
      err instanceof OAuthError &&
      err.oauthError === 'invalid_grant' &&
      this.#o.saved.canFallBackToBootstrap(usedRefreshToken)
    ) {
      this.#o.saved.fallBackToBootstrap()
      this.retry.nextAttemptAtMono = 0
      this.timer.after(0, () => this.refresh('bootstrap_fallback').catch(() => {}))
      throw this.unavailable(1)
    }
    const terminal = terminalError(err, this.#o.grant.name, this.#o.loginHint)
    if (terminal) {
      this.#enterTerminal(terminal, error, reason, usedRefreshToken)
      this.#o.events.emit('refresh_failed', { credential: this.#o.name, reason, durationMs, error: terminal })
      // keep serving the still-valid token; callers get the terminal error once it runs out
      throw terminal
    }
    const delay = this.#planRetry(error.retryAfterS)
    this.#o.log.warn(
      {
        event: 'token.refresh_failed',
        reason,
        attempt: this.retry.consecutiveFailures,
        retryInMs: Math.round(delay),
        durationMs,
        err: error,
      },
      'access token refresh failed; will retry',
    )
    this.#o.events.emit('refresh_failed', { credential: this.#o.name, reason, durationMs, error })
    throw this.unavailable()
  }

  /** Counts the failure and keeps it for status; returns it as the error callers see. */
  #recordFailure(err: unknown): ProxyError {
    this.failures++
    this.retry.consecutiveFailures++
    const error = toProxyError(err)
    this.lastError = {
      code: err instanceof OAuthError ? err.oauthError : error.code,
      message: error.message,
      atMs: this.#o.clock.now(),
    }
    return error
  }

  /** An error retrying cannot fix: no more attempts until a login (or a new configuration). */
  #enterTerminal(terminal: ProxyError, error: ProxyError, reason: string, usedRefreshToken: string | undefined): void {
    this.terminal = terminal
    this.health = terminal.code === 'login_required' ? 'login_required' : 'credential_rejected'
    this.timer.nextRefreshAtMono = undefined
    this.retry.nextAttemptAtMono = 0
    if (terminal.code === 'login_required' && usedRefreshToken && usedRefreshToken === this.lostAnswerFor) {
      this.#o.log.error(
        { event: 'token.refresh_answer_lost', reason, err: error, hint: terminal.hint },
        'the answer to an earlier refresh call was lost (dropped connection or no answer) after the identity provider had rotated the refresh token; the previous refresh token is now refused, so a new login is needed',
      )
    } else {
      this.#o.log.error({ event: 'token.' + terminal.code, reason, err: error, hint: terminal.hint }, terminal.message)
    }
  }

  /** Plans the background retry after a transient failure; returns its delay in ms. */
  #planRetry(retryAfterS: number | undefined): number {
    const held = this.current
    const usableMs = held
      ? remainingMs(held, this.#o.clock.now(), this.#o.clock.monotonic()) - safetyMarginMs(held, this.#o.settings)
      : 0
    const delay = this.retry.planAfterFailure(this.#o.clock.monotonic(), usableMs, retryAfterS)
    this.health = this.current && this.peek() ? 'valid' : 'failing'
    this.timer.clear()
    this.timer.nextRefreshAtMono = this.retry.nextAttemptAtMono
    this.timer.after(delay, () => this.refresh('retry').catch(() => {}))
    return delay
  }

  /** token_unavailable with Retry-After: when a caller's request may start the next attempt. */
  unavailable(retryAfterS?: number): ProxyError {
    const waitS =
      retryAfterS ?? Math.max(1, Math.ceil((this.retry.demandAllowedAtMono() - this.#o.clock.monotonic()) / 1000))
    return unavailableError(this.#o.name, waitS, this.lastError)
  }

  #schedule(token: AccessToken): void {
    this.timer.clear()
    if (this.stopped) return
    this.timer.planFor(token, this.#o.settings, this.#o.random, () => this.refresh('scheduled').catch(() => {}))
  }

  /** A wall-clock jump (suspend/resume, clock step) forces a refresh. */
  onClockJump(skewMs: number): void {
    this.#o.log.warn({ event: 'clock.jump_detected', jumpMs: Math.round(skewMs) }, 'wall clock jumped; refreshing now')
    if (this.terminal) return
    this.retry.nextAttemptAtMono = 0
    this.refresh('clock_jump').catch(() => {})
  }

  #describe(set: Pick<TokenSet, 'accessToken' | 'scope'>): void {
    const claims = claimsOf(set)
    if (claims.subject !== undefined) this.#o.saved.subject = claims.subject
    if (claims.scope !== undefined) this.scope = claims.scope
  }
}
