// One refresh for the whole fleet: replicas sharing a credential in Redis refresh it under the store's lock and version check.
//
// The version check on every write keeps rotation safe; the lock only keeps replicas from racing to the identity domain.
// A replica reads, takes the lock, reads again (a newer version: adopt it, call nobody), calls the grant with the
// refresh token of the version it read, and writes version + 1 only if the stored version is still the one it read.
// Every write is announced; the other replicas adopt the new access token without calling the identity domain.
import { ProxyError } from '../shared/errors.js'
import type { Grant, TokenSet } from '../oauth/types.js'
import {
  DEFAULT_LOCK_WAIT_MS,
  isInvalidGrant,
  isStoreError,
  type FleetDeps,
  type FleetResult,
  pickHeld,
  type RefreshOptions,
} from './fleet-types.js'
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
  /** A write whose outcome is unknown (the store timed out): written or seeded until stored or superseded. */
  #unstored: { expected: number; input: StateInput } | undefined
  #adoptListener: ((result: FleetResult & { kind: 'adopted' }) => void) | undefined
  #newRefreshTokenListener: ((refreshToken: string) => void) | undefined
  #unsubscribe: (() => Promise<void>) | undefined
  #stopResync: (() => void) | undefined
  #adopting: Promise<void> | undefined
  /** The stored version last seen (read, adopted or written): for status. */
  #seen: { writtenBy?: string; updatedAtMs?: number } = {}
  #adoptions = 0
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

  /** The refresh token of the newest version held (what a rotation wrote, a login stored, or the store had). */
  get heldRefreshToken(): string | undefined {
    return this.#held?.refreshToken
  }

  /**
   * Stores the result of a login or an import as the next version (whatever version is stored: a login replaces
   * the grant). Other replicas adopt it from the announcement. Rejects with the store's error when unreachable.
   */
  async storeLogin(input: StateInput): Promise<number> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const seen = await this.#deps.store.read()
      const result = await this.#deps.store.write(seen?.version ?? 0, input)
      if (result.ok) {
        this.hold(result.version, input)
        return result.version
      }
    }
    throw new ProxyError('store_busy', 'the shared store kept changing while the login was being stored', {
      hint: 'run the login again',
    })
  }

  /** The state held for `version`, e.g. what the manager loaded at start or obtained by a login. */
  hold(version: number, input: StateInput): void {
    if (version < this.#version) return
    this.#version = version
    this.#held = { ...input }
  }

  /** Reads the stored state (re-seeding an emptied store from what is held); undefined when there is none. */
  async read(): Promise<VersionedState | undefined> {
    const { store, log } = this.#deps
    await this.#settleUnstored()
    const seen = await store.read()
    if (seen) this.#seen = { writtenBy: seen.state.writtenBy, updatedAtMs: seen.state.updatedAtMs }
    if (seen || !this.#held || this.#version === 0) return seen
    // Redis came back empty (restarted without persistence): put back the newest state this replica holds
    const seeded = await store.seed(this.#version, this.#held)
    log.warn(
      { event: 'store.seeded', version: this.#version, result: seeded.ok ? 'ok' : 'newer_present' },
      'the shared store had no state for this credential; it was seeded from this replica',
    )
    return store.read()
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
      return this.#refreshAlone(err, signal)
    }
  }

  async #refreshShared(signal: AbortSignal | undefined, rejected: string | undefined): Promise<FleetResult> {
    const usable = this.#usable(await this.read(), rejected)
    if (usable) return this.#adopt(usable)
    const lock = await this.#lockOrAdoption(signal, rejected)
    if (!lock) return this.#afterBusyLock(rejected)
    if ('kind' in lock) return lock
    try {
      // with the lock: another replica may have stored a token since the first read
      const current = await this.read()
      const moved = this.#usable(current, rejected)
      if (moved) return this.#adopt(moved)
      return await this.#callUnderLock(current, lock, signal)
    } finally {
      await lock.release().catch(() => {})
    }
  }

  /** Waits for the lock, or stops waiting when an announcement brings a usable token (the holder's result). */
  async #lockOrAdoption(
    signal: AbortSignal | undefined,
    rejected: string | undefined,
  ): Promise<HeldLock | (FleetResult & { kind: 'adopted' }) | undefined> {
    const adoption = new AbortController()
    const wake = (): void => adoption.abort(new Error('a newer token was announced'))
    this.#waiters.add(wake)
    try {
      return await this.#deps.store.acquireLock({
        waitMs: this.#deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
        signal: signal ? AbortSignal.any([signal, adoption.signal]) : adoption.signal,
      })
    } catch (err) {
      if (!adoption.signal.aborted || signal?.aborted) throw err
      const usable = this.#usable(await this.read(), rejected)
      if (usable) return this.#adopt(usable)
      // announced but not usable for this caller (it rejected that token): wait for the lock after all
      return this.#deps.store.acquireLock({
        waitMs: this.#deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
        ...(signal ? { signal } : {}),
      })
    } finally {
      this.#waiters.delete(wake)
    }
  }

  /** Another replica held the lock for the whole wait: use what it wrote, or report that nothing came. */
  async #afterBusyLock(rejected: string | undefined): Promise<FleetResult> {
    const usable = this.#usable(await this.read(), rejected)
    if (usable) return this.#adopt(usable)
    throw new ProxyError('store_busy', 'another replica holds the refresh lock and has not stored a new token yet', {
      hint: 'the proxy retries by itself; if it persists, check the other replicas can reach the identity domain',
    })
  }

  async #callUnderLock(
    current: VersionedState | undefined,
    lock: HeldLock,
    signal: AbortSignal | undefined,
  ): Promise<FleetResult> {
    const { grant, clock, store, log } = this.#deps
    const base = current?.version ?? 0
    const refreshToken = current?.state.refreshToken ?? this.#held?.refreshToken
    const sentAtMs = clock.now()
    let set: TokenSet
    try {
      const signals = signal ? [signal, lock.signal] : [lock.signal]
      set = await grant.run({ refreshToken, signal: AbortSignal.any(signals) })
    } catch (err) {
      // another replica (or a login) may have rotated the refresh token: read before declaring the grant dead
      if (isInvalidGrant(err)) {
        const again = await store.read().catch(() => undefined)
        const newer = again && again.version > base ? again : undefined
        if (newer) return this.#adopt(newer)
      }
      throw err
    }
    const lifetimeMs = this.#deps.lifetimeOf(set, sentAtMs)
    const input: StateInput = {
      ...(grant.needsRefreshToken ? { refreshToken: set.refreshToken ?? refreshToken } : {}),
      accessToken: set.accessToken,
      accessTokenExpiresAtMs: sentAtMs + lifetimeMs,
      accessTokenObtainedAtMs: sentAtMs,
      ...(current?.state.subject ? { subject: current.state.subject } : {}),
    }
    // held before the write: it may be the only copy of a rotated refresh token
    this.hold(base + 1, input)
    let written
    try {
      written = await store.write(base, input)
    } catch (err) {
      if (!isStoreError(err)) throw err
      this.#unstored = { expected: base, input }
      log.warn(
        { event: 'store.write_unknown', version: base + 1, err },
        'the new token was obtained but its write did not complete; it is served and written again when the store answers',
      )
      return { kind: 'obtained', version: base + 1, set, sentAtMs, lifetimeMs, stored: false }
    }
    if (written.ok) {
      this.#seen = { ...(this.#deps.replicaId ? { writtenBy: this.#deps.replicaId } : {}), updatedAtMs: clock.now() }
      return { kind: 'obtained', version: written.version, set, sentAtMs, lifetimeMs, stored: true }
    }
    // someone wrote although this replica held the lock (it expired): theirs is the stored truth
    log.warn(
      { event: 'store.write_conflict', expected: base, current: written.currentVersion },
      'another replica stored a token while this one refreshed; using the stored one',
    )
    const stored = await store.read()
    if (stored && stored.state.accessToken) return this.#adopt(stored)
    return { kind: 'obtained', version: base + 1, set, sentAtMs, lifetimeMs, stored: false }
  }

  /** The store is unreachable and the grant rotates nothing: refresh for this replica alone. */
  async #refreshAlone(storeError: ProxyError, signal: AbortSignal | undefined): Promise<FleetResult> {
    const { grant, clock, log } = this.#deps
    log.warn(
      { event: 'store.refresh_alone', err: storeError },
      'the shared store is unreachable; refreshing for this replica alone (this grant rotates nothing)',
    )
    const sentAtMs = clock.now()
    const set = await grant.run({ refreshToken: undefined, ...(signal ? { signal } : {}) })
    const lifetimeMs = this.#deps.lifetimeOf(set, sentAtMs)
    return { kind: 'obtained', version: this.#version, set, sentAtMs, lifetimeMs, stored: false }
  }

  /**
   * The stored state when its access token can be served instead of refreshing: fresh by the manager's rule (not yet
   * due) and not the token the caller saw rejected. A newer refresh token without such an access token (a login, an
   * import) is held, so the refresh uses it.
   */
  #usable(seen: VersionedState | undefined, rejected?: string): VersionedState | undefined {
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
    this.hold(seen.version, pickHeld(seen.state))
    if (this.#unstored && this.#unstored.expected < seen.version) this.#unstored = undefined
    return { kind: 'adopted', version: seen.version, state: seen.state }
  }

  /** Writes (or seeds) a state whose write timed out, until the store shows it stored or superseded. */
  async #settleUnstored(): Promise<void> {
    const pending = this.#unstored
    if (!pending) return
    const { store, log } = this.#deps
    const seen = await store.read()
    const version = seen?.version ?? 0
    if (version > pending.expected) {
      // stored after all, or superseded by a newer write
      this.#unstored = undefined
      return
    }
    const result = seen
      ? await store.write(pending.expected, pending.input)
      : await store.seed(pending.expected + 1, pending.input)
    this.#unstored = undefined
    log.info(
      { event: 'store.write_recovered', version: pending.expected + 1, ok: result.ok },
      'the held token was written to the shared store',
    )
  }

  /**
   * Follows the other replicas: announcements of newer versions and reconnects are read and handed to `onAdopt`
   * when they carry a usable access token. Resolves once subscribed.
   */
  async follow(
    onAdopt: (result: FleetResult & { kind: 'adopted' }) => void,
    onNewRefreshToken?: (refreshToken: string) => void,
  ): Promise<void> {
    this.#adoptListener = onAdopt
    this.#newRefreshTokenListener = onNewRefreshToken
    const { store } = this.#deps
    this.#unsubscribe = await store.onAnnouncement((a) => {
      if (a.version > this.#version) this.#catchUp()
    })
    this.#stopResync = store.onResync(() => this.#catchUp())
  }

  /** Reads and adopts a newer stored version (one read at a time). */
  #catchUp(): void {
    if (this.#adopting) return
    this.#adopting = this.read()
      .then((seen) => {
        const before = this.#version
        if (!seen || seen.version <= before) return
        const usable = this.#usable(seen)
        if (usable) {
          this.#adoptListener?.(this.#adopt(usable))
          for (const wake of this.#waiters) wake()
        } else if (seen.state.refreshToken) {
          // a login or an import stored a refresh token without an access token: refresh with it (one replica will)
          this.#newRefreshTokenListener?.(seen.state.refreshToken)
        }
      })
      .catch((err: unknown) => {
        this.#deps.log.debug(
          { event: 'store.catch_up_failed', err },
          'could not read the shared store; retried on the next refresh',
        )
      })
      .finally(() => {
        this.#adopting = undefined
      })
  }

  async stop(): Promise<void> {
    this.#stopResync?.()
    await this.#unsubscribe?.().catch(() => {})
    await this.#adopting
  }
}
