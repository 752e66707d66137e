// One refresh for the whole fleet: replicas sharing a credential in Redis refresh it under the store's lock and version check.
//
// The version check on every write keeps rotation safe; the lock only keeps replicas from racing to the identity domain.
// A replica reads, takes the lock, reads again (a newer version: adopt it, call nobody), calls the grant with the
// refresh token of the version it read, and writes version + 1 only if the stored version is still the one it read.
// Every write is announced; the other replicas adopt the new access token without calling the identity domain.
import { ProxyError } from '../shared/errors.js'
import type { Grant } from '../oauth/types.js'
import {
  DEFAULT_LOCK_WAIT_MS,
  isInvalidGrant,
  isStoreError,
  type FleetDeps,
  type FleetResult,
  pickHeld,
  RecentTokens,
  type RefreshOptions,
} from './fleet-types.js'
import { followStore, lockOrWake, type Follower } from './fleet-follow.js'
import {
  carriesRetired,
  refreshAlone,
  reseed,
  settlePending,
  storeAsNextVersion,
  type PendingWrite,
} from './fleet-pending.js'
import type { HeldLock } from './store/redis/lock.js'
import type { StateInput, VersionedState } from './store/redis/store.js'
import type { SharedCredentialStatus } from './store/types.js'

export type { FleetDeps, FleetResult, RefreshOptions } from './fleet-types.js'

export class FleetRefresher {
  readonly #deps: FleetDeps
  /** The newest version this replica holds (0: none). */
  #version = 0
  /** What this replica holds of that version: the copy it seeds an emptied Redis with. */
  #held: StateInput | undefined
  /** When the held state was written (to tell a deliberate reset from lost writes when Redis comes back older). */
  #heldAtMs = 0
  /** A write the store has not confirmed (a timeout, Redis down): written again until the store holds it. */
  #unstored: PendingWrite | undefined
  #follower: Follower | undefined
  /** The stored version last seen (read, adopted or written): for status. */
  #seen: { writtenBy?: string; updatedAtMs?: number } = {}
  #adoptions = 0
  /** Refresh tokens this replica read, adopted or wrote: a save of one of them is no new sign-in. */
  readonly #known = new RecentTokens()
  /** Refreshes waiting for the lock: woken when an announced token is adopted. */
  readonly #waiters = new Set<() => void>()

  constructor(deps: FleetDeps) {
    this.#deps = { ...deps }
  }

  /** The grant refreshes run (set once the credential's grant is built). */
  useGrant(grant: Grant): void {
    this.#deps.grant = grant
  }

  get version(): number {
    return this.#version
  }

  /** The stored version this replica holds, who wrote it and when, and how many tokens it adopted. */
  status(): SharedCredentialStatus {
    return { version: this.#version, ...this.#seen, adoptions: this.#adoptions }
  }

  /** Whether a refresh token came from the fleet (the store or this replica's rotations), not from a new sign-in. */
  knows(refreshToken: string): boolean {
    return this.#known.has(refreshToken)
  }

  /** The refresh token of the newest version held (what a rotation wrote, a login stored, or the store had). */
  get heldRefreshToken(): string | undefined {
    return this.#held?.refreshToken
  }

  /** A login or an import as the next version (it replaces the grant); `keepOnFailure` (serve) keeps it pending. */
  async storeLogin(input: StateInput, options: { keepOnFailure?: boolean } = {}): Promise<number> {
    const { store, log } = this.#deps
    this.#held = { ...input }
    this.#heldAtMs = Date.now()
    try {
      const version = await storeAsNextVersion(store, input)
      this.hold(version, input)
      return version
    } catch (err) {
      if (!options.keepOnFailure || !(isStoreError(err) || (err as ProxyError).code === 'store_busy')) throw err
      this.#unstored = { kind: 'login', expected: this.#version, input }
      log.warn(
        { event: 'store.login_pending', err },
        'the sign-in could not be stored in the shared store yet; it is served here and stored when the store answers',
      )
      return this.#version
    }
  }

  /** The state held for `version`, e.g. what the manager loaded at start or obtained by a login. */
  // wall-clock ms, like the store's updatedAtMs it is compared with (the injected clock drives schedules only)
  hold(version: number, input: StateInput, atMs = Date.now()): void {
    this.#known.add(input.refreshToken)
    if (version < this.#version) return
    this.#version = version
    this.#held = { ...input }
    this.#heldAtMs = atMs
  }

  /**
   * Reads the stored state; an emptied store, or one that came back older than what this replica holds (lost writes,
   * a restore), is seeded again from it (a seed writes only over a lower version). An older version written later
   * than the held one is a deliberate reset followed by a login: it is taken as is.
   */
  async read(): Promise<VersionedState | undefined> {
    await this.#settleUnstored()
    const seen = await this.#deps.store.read()
    if (seen) this.#seen = { writtenBy: seen.state.writtenBy, updatedAtMs: seen.state.updatedAtMs }
    if (!this.#held || this.#version === 0 || (seen && seen.version >= this.#version)) return seen
    if (!seen) return reseed(this.#deps, this.#version, this.#held, 'empty')
    if (seen.state.updatedAtMs > this.#heldAtMs) {
      this.#version = seen.version
      this.#held = pickHeld(seen.state)
      this.#heldAtMs = seen.state.updatedAtMs
      return seen
    }
    return reseed(this.#deps, this.#version, this.#held, 'older')
  }

  /**
   * A refresh for the fleet: adopts a newer stored token, or calls the grant under the lock and stores the result.
   * Grants that rotate nothing fall back to a local call while the store is unreachable; a refresh_token grant
   * never does (it would fork the rotation chain) and rejects with the store's error.
   */
  async refresh(options: RefreshOptions = {}): Promise<FleetResult> {
    const { signal, rejected } = options
    // the manager's refresh token (the configured bootstrap, say) serves when the store and this replica hold none
    if (options.refreshToken && !this.#held?.refreshToken)
      this.#held = { ...this.#held, refreshToken: options.refreshToken }
    try {
      return await this.#refreshShared(signal, rejected)
    } catch (err) {
      if (!isStoreError(err) || this.#deps.grant.needsRefreshToken) throw err
      return refreshAlone(this.#deps, this.#version, err, signal)
    }
  }

  async #refreshShared(signal: AbortSignal | undefined, rejected: string | undefined): Promise<FleetResult> {
    const usable = this.usable(await this.read(), rejected)
    if (usable) return this.#adopt(usable)
    const lock = await this.#lockOrAdoption(signal, rejected)
    if (!lock) return this.#afterBusyLock(rejected)
    if ('kind' in lock) return lock
    try {
      // with the lock: another replica may have stored a token since the first read
      const current = await this.read()
      const moved = this.usable(current, rejected)
      if (moved) return this.#adopt(moved)
      return await this.#callUnderLock(current, lock, signal)
    } finally {
      // a rotation the store has not confirmed keeps the lock (it expires by itself) unless it can be written now
      if (this.#unstored) await this.#settleUnstored().catch(() => {})
      if (!this.#unstored) await lock.release().catch(() => {})
    }
  }

  /** Waits for the lock, or stops waiting when an announcement brings a usable token (the holder's result). */
  async #lockOrAdoption(
    signal: AbortSignal | undefined,
    rejected: string | undefined,
  ): Promise<HeldLock | (FleetResult & { kind: 'adopted' }) | undefined> {
    const got = await lockOrWake(this.#deps, this.#waiters, signal)
    if (got !== 'announced') return got
    const usable = this.usable(await this.read(), rejected)
    if (usable) return this.#adopt(usable)
    // announced but not usable for this caller (it rejected that token): wait for the lock after all
    return this.#deps.store.acquireLock({
      waitMs: this.#deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
      ...(signal ? { signal } : {}),
    })
  }

  /** Another replica held the lock for the whole wait: use what it wrote, or report that nothing came. */
  async #afterBusyLock(rejected: string | undefined): Promise<FleetResult> {
    const usable = this.usable(await this.read(), rejected)
    if (usable) return this.#adopt(usable)
    throw new ProxyError('store_busy', 'another replica holds the refresh lock and has not stored a new token yet', {
      hint: 'the proxy retries by itself; if it persists, check the other replicas can reach the identity domain',
    })
  }

  /** The identity-domain call under the lock; an invalid_grant is checked against the store before it counts. */
  async #callUnderLock(
    current: VersionedState | undefined,
    lock: HeldLock,
    signal: AbortSignal | undefined,
  ): Promise<FleetResult> {
    let base = current
    for (let attempt = 0; ; attempt++) {
      const refreshToken = base?.state.refreshToken ?? this.#held?.refreshToken
      try {
        return await this.#obtainAndStore(base, refreshToken, lock, signal)
      } catch (err) {
        if (!isInvalidGrant(err) || attempt > 0) throw err
        // another replica or a login may have replaced the refresh token: read before declaring the grant dead
        const again = await this.#deps.store.read().catch(() => undefined)
        if (!again || again.version <= (base?.version ?? 0)) throw err
        const usable = this.usable(again)
        if (usable) return this.#adopt(usable)
        if (!again.state.refreshToken || again.state.refreshToken === refreshToken) throw err
        base = again // a newer refresh token without an access token: use it, still under the lock
      }
    }
  }

  async #obtainAndStore(
    current: VersionedState | undefined,
    refreshToken: string | undefined,
    lock: HeldLock,
    signal: AbortSignal | undefined,
  ): Promise<FleetResult> {
    const { grant, clock, store, log } = this.#deps
    const base = current?.version ?? 0
    const sentAtMs = clock.now()
    const set = await grant.run({
      refreshToken,
      signal: AbortSignal.any(signal ? [signal, lock.signal] : [lock.signal]),
    })
    const lifetimeMs = this.#deps.lifetimeOf(set, sentAtMs)
    const input: StateInput = {
      ...(grant.needsRefreshToken ? { refreshToken: set.refreshToken ?? refreshToken } : {}),
      accessToken: set.accessToken,
      accessTokenExpiresAtMs: sentAtMs + lifetimeMs,
      accessTokenObtainedAtMs: sentAtMs,
      ...(current?.state.subject ? { subject: current.state.subject } : {}),
    }
    const obtained = (stored: boolean): FleetResult => ({
      kind: 'obtained',
      version: base + 1,
      set,
      sentAtMs,
      lifetimeMs,
      stored,
    })
    // held before the write: it may be the only copy of a rotated refresh token
    this.hold(base + 1, input)
    const retired =
      grant.needsRefreshToken && refreshToken && set.refreshToken !== refreshToken ? refreshToken : undefined
    const pending: PendingWrite = { kind: 'rotation', expected: base, input, ...(retired ? { retired } : {}) }
    try {
      const written = await store.write(base, input)
      if (written.ok) {
        this.#seen = { ...(this.#deps.replicaId ? { writtenBy: this.#deps.replicaId } : {}), updatedAtMs: clock.now() }
        return obtained(true)
      }
      log.warn(
        { event: 'store.write_conflict', expected: base, current: written.currentVersion },
        'another replica stored a token while this one refreshed; using the stored one',
      )
      // theirs is the stored truth, unless it still carries the refresh token this rotation retired
      const stored = await store.read()
      if (stored?.state.accessToken && !carriesRetired(stored, pending)) return this.#adopt(stored)
      if (await settlePending(store, pending)) return obtained(true)
    } catch (err) {
      if (!isStoreError(err)) throw err
    }
    this.#unstored = pending
    log.warn(
      { event: 'store.write_unknown', version: base + 1 },
      'the new token was obtained but its write was not confirmed; it is served and written again when the store answers',
    )
    return obtained(false)
  }

  /**
   * The stored state when its access token can be served instead of refreshing: fresh by the manager's rule (not yet
   * due) and not the token the caller saw rejected. A newer refresh token without such an access token (a login, an
   * import) is held, so the refresh uses it.
   */
  usable(seen: VersionedState | undefined, rejected?: string): VersionedState | undefined {
    if (!seen) return undefined
    const { accessToken, accessTokenExpiresAtMs, accessTokenObtainedAtMs } = seen.state
    if (
      accessToken &&
      accessTokenExpiresAtMs !== undefined &&
      accessToken !== rejected &&
      this.#deps.fresh(accessTokenExpiresAtMs, accessTokenObtainedAtMs)
    )
      return seen
    if (seen.version > this.#version) this.hold(seen.version, pickHeld(seen.state))
    return undefined
  }

  #adopt(seen: VersionedState): FleetResult & { kind: 'adopted' } {
    this.#adoptions++
    this.#seen = { writtenBy: seen.state.writtenBy, updatedAtMs: seen.state.updatedAtMs }
    const held = pickHeld(seen.state)
    const pending = this.#unstored
    // a writer that did not know of this replica's rotation must not take its refresh token back to the retired one
    if (pending && carriesRetired(seen, pending)) held.refreshToken = pending.input.refreshToken as string
    else if (pending?.kind === 'rotation' && pending.expected < seen.version) this.#unstored = undefined
    this.hold(seen.version, held, seen.state.updatedAtMs)
    return { kind: 'adopted', version: seen.version, state: seen.state }
  }

  /** Writes a state the store has not confirmed, until the store holds it (or a newer state that includes it). */
  async #settleUnstored(): Promise<void> {
    const pending = this.#unstored
    if (!pending || !(await settlePending(this.#deps.store, pending)) || this.#unstored !== pending) return
    this.#unstored = undefined
    this.#deps.log.info(
      { event: 'store.write_recovered', kind: pending.kind },
      'the held state was written to the shared store',
    )
  }

  /** Follows the other replicas (fleet-follow.ts): usable tokens to `onAdopt`, bare refresh tokens to the other. */
  async follow(
    onAdopt: (result: FleetResult & { kind: 'adopted' }) => void,
    onNewRefreshToken?: (refreshToken: string) => void,
  ): Promise<void> {
    this.#follower = await followStore(this.#deps, this, {
      onAdopt: (seen) => {
        onAdopt(this.#adopt(seen))
        for (const wake of this.#waiters) wake()
      },
      ...(onNewRefreshToken ? { onNewRefreshToken } : {}),
    })
  }

  /** Stops following; a write still unconfirmed gets one last try, and its loss is logged with the way back. */
  async stop(): Promise<void> {
    await this.#follower?.stop()
    if (!this.#unstored) return
    await this.#settleUnstored().catch(() => {})
    const left = this.#unstored?.input.refreshToken
    if (!left) return
    const file = await this.#deps.keepInFile?.(left).catch(() => undefined)
    this.#deps.log.error(
      { event: 'store.unstored_at_stop', ...(file ? { stateFile: file } : {}) },
      file
        ? `stopping with a refresh token the shared store never confirmed: it is kept in ${file}; when Redis answers, run oac-token-proxy migrate --to redis`
        : 'stopping with a refresh token the shared store never confirmed; if the replicas answer login_required, run oac-token-proxy login',
    )
  }
}
