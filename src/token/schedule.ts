// Pure timing rules of the token manager: when to refresh, how long to back off, when a token is usable.
import type { TokenSettings } from '../config/types.js'

/** An access token as the manager holds it. */
export interface AccessToken {
  readonly value: string
  /** Wall-clock ms; from expires_in counted from when the request was sent (or the JWT exp, when rounded earlier). */
  readonly obtainedAtMs: number
  readonly expiresAtMs: number
  /** Same instants on the monotonic clock: a wall-clock jump cannot make a token look younger. */
  readonly obtainedAtMono: number
  readonly expiresAtMono: number
  readonly lifetimeMs: number
  /** Increases with every token the manager applies. */
  readonly seq: number
}

/** How much validity a token must still have to be forwarded: expirySafetyMs, at most a tenth of its lifetime. */
export function safetyMarginMs(token: AccessToken, settings: TokenSettings): number {
  return Math.min(settings.expirySafetyMs, token.lifetimeMs / 10)
}

/** ms of usable life left, by the more pessimistic of the wall and monotonic clocks. */
export function remainingMs(token: AccessToken, nowMs: number, nowMono: number): number {
  return Math.min(token.expiresAtMs - nowMs, token.expiresAtMono - nowMono)
}

export function isUsable(token: AccessToken, nowMs: number, nowMono: number, settings: TokenSettings): boolean {
  return remainingMs(token, nowMs, nowMono) > safetyMarginMs(token, settings)
}

/**
 * Monotonic instant at which to refresh: after refreshAheadRatio of the lifetime,
 * brought forward by up to refreshJitterRatio of it, and at least minLeadMs before
 * expiry when the lifetime leaves room for that.
 */
export function refreshAtMono(token: AccessToken, settings: TokenSettings, random: () => number): number {
  const life = token.lifetimeMs
  const lead = Math.min(settings.minLeadMs, life / 2)
  const planned =
    token.obtainedAtMono + life * settings.refreshAheadRatio - random() * settings.refreshJitterRatio * life
  return Math.min(planned, token.expiresAtMono - lead)
}

/** Exponential backoff with jitter (between half and all of the step), never shorter than Retry-After. */
export function backoffMs(
  failures: number,
  settings: TokenSettings,
  random: () => number,
  retryAfterS?: number,
): number {
  const step = Math.min(settings.backoffMaxMs, settings.backoffInitialMs * 2 ** Math.max(0, failures - 1))
  const jittered = step / 2 + (random() * step) / 2
  return Math.max(jittered, (retryAfterS ?? 0) * 1000)
}

/**
 * Whether a token (wall-clock ms) is not yet due for a refresh by any replica: before the earliest moment the schedule
 * could pick for it (with the most jitter). Without its obtained time (a login stored it), it is due once less than
 * minLeadMs is left.
 */
export function notYetDue(
  expiresAtMs: number,
  obtainedAtMs: number | undefined,
  nowMs: number,
  settings: TokenSettings,
): boolean {
  if (obtainedAtMs === undefined || obtainedAtMs >= expiresAtMs) return expiresAtMs - nowMs > settings.minLeadMs
  const life = expiresAtMs - obtainedAtMs
  const lead = Math.min(settings.minLeadMs, life / 2)
  const earliest = obtainedAtMs + life * (settings.refreshAheadRatio - settings.refreshJitterRatio)
  return nowMs < Math.min(earliest, expiresAtMs - lead)
}
