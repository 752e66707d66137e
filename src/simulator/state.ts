// Mutable state shared by the simulated IDCS and OAC servers of one simulator instance.

import type { Clock } from '../shared/clock.js'
import type { SimCall, SimStats } from './types.js'

export interface SimState {
  readonly clock: Clock
  readonly calls: SimCall[]
  readonly stats: SimStats
  readonly issued: { accessTokens: string[]; refreshTokens: string[] }
  /** Real-time timers (fault latency) to cancel on close. */
  readonly timers: Set<NodeJS.Timeout>
  closed: boolean
}

export function createState(clock: Clock): SimState {
  return {
    clock,
    calls: [],
    stats: {
      tokenCalls: 0,
      refreshGrants: 0,
      staleRefreshTokenUses: 0,
      oacRequests: 0,
      oacExpiredTokenRequests: 0,
      oacUnauthorized: 0,
    },
    issued: { accessTokens: [], refreshTokens: [] },
    timers: new Set(),
    closed: false,
  }
}

/** Wait `ms` of real time; resolves false (at once) if the simulator closes first. */
export function realDelay(state: SimState, ms: number): Promise<boolean> {
  if (state.closed) return Promise.resolve(false)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      state.timers.delete(timer)
      resolve(!state.closed)
    }, ms)
    state.timers.add(timer)
  })
}

/** Cancel pending delays; the requests waiting on them are dropped with their sockets. */
export function cancelTimers(state: SimState): void {
  state.closed = true
  for (const timer of state.timers) clearTimeout(timer)
  state.timers.clear()
}
