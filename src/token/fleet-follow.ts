// Following the other replicas of a fleet: announcements and reconnects are read, newer stored tokens handed on.
import { DEFAULT_LOCK_WAIT_MS, type FleetDeps } from './fleet-types.js'
import type { HeldLock } from './store/redis/lock.js'
import type { VersionedState } from './store/redis/store.js'

/** What the follower needs of the refresher. */
export interface Followed {
  readonly version: number
  readonly heldRefreshToken: string | undefined
  read(): Promise<VersionedState | undefined>
  usable(seen: VersionedState): VersionedState | undefined
}

export interface FollowHandlers {
  /** A newer stored token that can be served. */
  onAdopt(seen: VersionedState): void
  /** A newer refresh token without an access token (a login or an import elsewhere). */
  onNewRefreshToken?(refreshToken: string): void
}

export interface Follower {
  stop(): Promise<void>
}

/** Subscribes to the credential's announcements (and reconnects); resolves once subscribed. */
export async function followStore(deps: FleetDeps, fleet: Followed, handlers: FollowHandlers): Promise<Follower> {
  let reading: Promise<void> | undefined
  const catchUp = (): void => {
    if (reading) return
    const before = fleet.version
    const heldBefore = fleet.heldRefreshToken
    reading = fleet
      .read()
      .then((seen) => {
        if (!seen || (seen.version === before && seen.state.refreshToken === heldBefore)) return
        const usable = fleet.usable(seen)
        if (usable) handlers.onAdopt(usable)
        // a login or an import stored a refresh token without an access token: refresh with it (one replica will)
        else if (seen.state.refreshToken) handlers.onNewRefreshToken?.(seen.state.refreshToken)
      })
      .catch((err: unknown) => {
        deps.log.debug(
          { event: 'store.catch_up_failed', err },
          'could not read the shared store; retried on the next refresh',
        )
      })
      .finally(() => {
        reading = undefined
      })
  }
  const unsubscribe = await deps.store.onAnnouncement((a) => {
    if (a.version !== fleet.version) catchUp()
  })
  const stopResync = deps.store.onResync(catchUp)
  return {
    async stop() {
      stopResync()
      await unsubscribe().catch(() => {})
      await reading
    },
  }
}

/** Waits for the refresh lock; 'announced' when an announcement wakes the wait first (the holder's result is stored). */
export async function lockOrWake(
  deps: FleetDeps,
  waiters: Set<() => void>,
  signal: AbortSignal | undefined,
): Promise<HeldLock | 'announced' | undefined> {
  const announced = new AbortController()
  const wake = (): void => announced.abort(new Error('a newer token was announced'))
  waiters.add(wake)
  try {
    return await deps.store.acquireLock({
      waitMs: deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
      signal: signal ? AbortSignal.any([signal, announced.signal]) : announced.signal,
    })
  } catch (err) {
    if (!announced.signal.aborted || signal?.aborted) throw err
    return 'announced'
  } finally {
    waiters.delete(wake)
  }
}
