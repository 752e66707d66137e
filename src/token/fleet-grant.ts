// The grant a manager runs when its credential is shared: a refresh through the fleet, answered as a token response.
import type { Clock } from '../shared/clock.js'
import type { Grant, TokenSet } from '../oauth/types.js'
import type { FleetResult, RefreshOptions } from './fleet-types.js'
import type { SharedState } from './store/redis/store.js'

/**
 * The grant a manager runs when its credential is shared: a refresh through the fleet. A token another replica stored
 * comes back as a token response (its remaining life as expires_in; a JWT's exp still rules), so the manager applies,
 * schedules and serves it like one it obtained.
 */
export function fleetGrant(
  inner: Grant,
  fleet: { refresh(options: RefreshOptions): Promise<FleetResult> },
  clock: Clock,
): Grant {
  return {
    name: inner.name,
    needsRefreshToken: inner.needsRefreshToken,
    async run(ctx) {
      const result = await fleet.refresh({
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        ...(ctx.refreshToken ? { refreshToken: ctx.refreshToken } : {}),
        ...(ctx.rejected ? { rejected: ctx.rejected } : {}),
      })
      if (result.kind === 'obtained') return result.set
      return storedTokenSet(result.state, clock.now())
    },
  }
}

/**
 * A stored token as a token response whose expires_in counts from `fromMs` (the manager counts its lifetime from there).
 * expires_in keeps the milliseconds: whole seconds would cut up to a second off every adopted token, and one with less
 * than a second left would be adopted as already expired and refreshed again at once, in a loop, until it is due.
 */
export function storedTokenSet(state: SharedState, fromMs: number): TokenSet {
  return {
    accessToken: state.accessToken as string,
    tokenType: 'Bearer',
    expiresInS: Math.max(0, ((state.accessTokenExpiresAtMs as number) - fromMs) / 1000),
    ...(state.refreshToken ? { refreshToken: state.refreshToken } : {}),
  }
}
