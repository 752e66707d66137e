// What a token response says about its token: how long it lives (expires_in or a rounded exp) and whose it is.
import { jwtClaims } from '../shared/jwt.js'
import type { TokenSet } from '../oauth/types.js'
import type { AccessToken } from './schedule.js'

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
    exp = jwtClaims(set.accessToken).exp
  } catch {
    return lifetimeMs // opaque token
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return lifetimeMs
  const earlierByMs = sentAtMs + lifetimeMs - exp * 1000
  if (earlierByMs <= 0 || earlierByMs > EXP_ROUNDING_TOLERANCE_MS) return lifetimeMs
  return Math.max(lifetimeMs - earlierByMs, lifetimeMs / 2)
}

/** An access token as held, obtained at the given wall and monotonic instants, living `lifetimeMs`. */
export function heldToken(
  value: string,
  obtainedAtMs: number,
  obtainedAtMono: number,
  lifetimeMs: number,
  seq: number,
): AccessToken {
  return {
    value,
    obtainedAtMs,
    expiresAtMs: obtainedAtMs + lifetimeMs,
    obtainedAtMono,
    expiresAtMono: obtainedAtMono + lifetimeMs,
    lifetimeMs,
    seq,
  }
}

/** The subject and scope shown in status: from the JWT's claims, the response's scope winning. */
export function claimsOf(set: TokenSet): { subject?: string; scope?: string } {
  const found: { subject?: string; scope?: string } = {}
  try {
    const claims = jwtClaims(set.accessToken)
    if (typeof claims.sub === 'string') found.subject = claims.sub
    if (typeof claims.scope === 'string') found.scope = claims.scope
  } catch {
    // opaque access token: nothing to show
  }
  if (set.scope) found.scope = set.scope
  return found
}
