// Retry pacing after failed refreshes: backoff with or without a usable token, Retry-After, callers' attempts.
import type { TokenSettings } from '../config/types.js'
import { backoffMs } from './schedule.js'

/**
 * While a held token nears its usable end, one retry is planned this long before it, even when a
 * Retry-After asks for a longer wait: a renewed token must arrive before callers are refused.
 */
export const LAST_CHANCE_LEAD_MS = 500

/** When the next attempt may start, counted on the monotonic clock; reset by every success. */
export class RetryPacing {
  /** Failed attempts since the last success. */
  consecutiveFailures = 0
  /** When the background retry timer fires (0: none planned). */
  nextAttemptAtMono = 0
  /** When the last attempt since the last success started; callers' requests may start another demandRetryMs later. */
  lastAttemptAtMono = -Infinity
  /** No attempt before this (the identity provider's Retry-After). */
  notBeforeMono = 0
  /** Consecutive failures while no usable token was held: only these lengthen the backoff. */
  outageFailures = 0

  readonly #settings: TokenSettings
  readonly #random: () => number

  constructor(settings: TokenSettings, random: () => number) {
    this.#settings = settings
    this.#random = random
  }

  /** When a caller's request may start the next attempt. */
  demandAllowedAtMono(): number {
    const demandAt = Math.max(this.lastAttemptAtMono + this.#settings.demandRetryMs, this.notBeforeMono)
    return this.nextAttemptAtMono > 0 ? Math.min(this.nextAttemptAtMono, demandAt) : demandAt
  }

  /** A new token was obtained: no failures, nothing planned, callers' attempts no longer rate-limited. */
  succeeded(): void {
    this.consecutiveFailures = 0
    this.outageFailures = 0
    this.nextAttemptAtMono = 0
    this.notBeforeMono = 0
    // the rate limit on callers' attempts applies after failures only
    this.lastAttemptAtMono = -Infinity
  }

  /** A login brought a new refresh token: the failures before it no longer count. */
  restart(): void {
    this.nextAttemptAtMono = 0
    this.notBeforeMono = 0
    this.consecutiveFailures = 0
    this.outageFailures = 0
  }

  /**
   * Plans the retry after a failure at `nowMono`, given how long the held token stays usable
   * (0 or less: none) and the identity provider's Retry-After; returns the delay in ms.
   */
  planAfterFailure(nowMono: number, usableMs: number, retryAfterS: number | undefined): number {
    const retryAfterMs = (retryAfterS ?? 0) * 1000
    let delay: number
    if (usableMs > 0) {
      // while a token is still usable: retry at least twice before it runs out, without lengthening
      // the backoff an outage would start with once it has run out
      this.outageFailures = 0
      const paced = Math.min(
        backoffMs(this.consecutiveFailures, this.#settings, this.#random),
        Math.max(this.#settings.backoffInitialMs, usableMs / 2),
      )
      delay = Math.max(paced, retryAfterMs)
      // one attempt lands before the token's usable end, even if Retry-After asks for longer
      const lastChanceMs = usableMs - LAST_CHANCE_LEAD_MS
      if (delay > lastChanceMs && lastChanceMs > 0) delay = lastChanceMs
    } else {
      // nothing usable held: background retries back off from backoffInitialMs; callers' requests may
      // start attempts sooner (every demandRetryMs), so recovery follows the identity provider
      this.outageFailures++
      delay = backoffMs(this.outageFailures, this.#settings, this.#random, retryAfterS)
    }
    this.notBeforeMono = nowMono + retryAfterMs
    this.nextAttemptAtMono = nowMono + delay
    return delay
  }
}
