// The shared token store on Redis: versioned, encrypted credential state, a refresh lock and write announcements.
//
// Intended protocol for a token manager (one credential, many replicas):
//   1. read() -> {version, state}; serve state.accessToken while it is fresh.
//   2. When a refresh is due: acquireLock({waitMs}). No lock within the wait: read() again and adopt.
//   3. With the lock: read() again. If the version moved since step 1, adopt it, release, and do not
//      call the identity domain (another replica refreshed).
//   4. Call the token endpoint with the refresh token of that version, under lock.signal (lost lock: stop).
//   5. write(version, newState): compare-and-set. `conflict` means someone wrote anyway (the lock expired):
//      re-read and adopt theirs when newer; the version check, not the lock, is what keeps rotation safe.
//      A successful write is announced on the credential's channel in the same atomic step.
//      A write that failed with store_unavailable (timeout) may still be applied: keep the new state (it may
//      be the only copy of a rotated refresh token) and read, then write or seed, until it is stored or superseded.
//   6. release() the lock.
//   On an announcement (onAnnouncement) with a version above the one held: read() and adopt.
//   On reconnect (onResync): read() and adopt, announcements may have been missed.
//   On invalid_grant: read() first; a newer version means another replica rotated the token: adopt, retry.
//   Redis emptied (read() absent while a state is held): seed(version, state); the highest version wins.
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { ProxyError } from '../../../shared/errors.js'
import { resolveConnection, type RedisConnectionConfig } from './connection.js'
import { StateCipher } from './crypto.js'
import { canonicalIdentity, credentialKeys, DEFAULT_KEY_PREFIX, validatePrefix } from './keys.js'
import type { CredentialIdentity, CredentialKeys } from './keys.js'
import { openLink, type LinkEvent, type RedisLink } from './link.js'
import { acquireLock, DEFAULT_LOCK_TTL_MS, HeldLock, type AcquireOptions } from './lock.js'
import { StoreMetrics, type StoreOperation } from './metrics.js'
import { CAS_WRITE, LOCK_RELEASE, runScript, SEED_WRITE } from './scripts.js'
import { subscribeAnnouncements, type Announcement } from './subscription.js'

/** What one credential's shared state holds (sealed in Redis). */
export interface SharedState {
  refreshToken?: string
  accessToken?: string
  accessTokenExpiresAtMs?: number
  /** When the access token was obtained (its request sent): with the expiry, its lifetime. */
  accessTokenObtainedAtMs?: number
  /** Who the tokens belong to (JWT sub). */
  subject?: string
  identity: CredentialIdentity
  /** The replica id that wrote this version. */
  writtenBy: string
  updatedAtMs: number
}

/** What a writer gives: the store adds identity, writer and time. */
export type StateInput = Omit<SharedState, 'identity' | 'writtenBy' | 'updatedAtMs'>

export interface VersionedState {
  version: number
  state: SharedState
}

export type WriteResult = { ok: true; version: number } | { ok: false; currentVersion: number }

export interface RedisStoreOptions {
  connection: RedisConnectionConfig
  /** Namespace of every key; unrelated proxies sharing one Redis use different prefixes or identities. */
  keyPrefix?: string
  /** Use `new StateCipher(key, previousKeys)`, or `StateCipher.unencrypted()` as the explicit opt-out. */
  cipher: StateCipher
  /** Names this replica in announcements and state (default host/pid/random); never a secret. */
  replicaId?: string
  lockTtlMs?: number
  now?: () => number
  /** false: return at once and keep connecting in the background (operations fail with store_unavailable). */
  waitForConnection?: boolean
  /** Connection trouble and recoveries, for logging (errors are already safe to log). */
  onEvent?: (event: LinkEvent) => void
}

export interface StoreDescription {
  kind: 'single' | 'sentinel'
  /** Redacted (no password). */
  target: string
  keyPrefix: string
  encrypted: boolean
  keyId: string | undefined
  replicaId: string
}

export function defaultReplicaId(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`
}

export class RedisTokenStore {
  readonly metrics = new StoreMetrics()
  readonly replicaId: string
  private readonly resyncListeners = new Set<() => void>()
  /** Locks held through this store: released on close, so other replicas need not wait for the TTL. */
  readonly heldLocks = new Set<HeldLock>()
  private closed = false

  private constructor(
    private readonly link: RedisLink,
    private readonly options: RedisStoreOptions,
    private readonly kind: 'single' | 'sentinel',
    readonly keyPrefix: string,
  ) {
    this.replicaId = options.replicaId ?? defaultReplicaId()
    link.on((event) => {
      if (event.type === 'ready' && event.reconnect) {
        if (event.connection === 'command') this.metrics.reconnects++
        for (const l of this.resyncListeners) l()
      }
      options.onEvent?.(event)
    })
  }

  /** Validates the options and connects; rejects with config_invalid, store_unavailable or store_refused. */
  static async open(options: RedisStoreOptions): Promise<RedisTokenStore> {
    const prefix = validatePrefix(options.keyPrefix ?? DEFAULT_KEY_PREFIX)
    if (options.replicaId !== undefined && !/^[\x21-\x7e]{1,200}$/.test(options.replicaId))
      throw new ProxyError('config_invalid', 'store replica id: use 1 to 200 printable characters without spaces')
    if (options.lockTtlMs !== undefined && !(Number.isSafeInteger(options.lockTtlMs) && options.lockTtlMs >= 100))
      throw new ProxyError('config_invalid', 'store lock TTL: must be a whole number of milliseconds >= 100')
    const resolved = resolveConnection(options.connection)
    const link = await openLink(resolved, { waitForConnection: options.waitForConnection !== false })
    return new RedisTokenStore(link, options, resolved.kind, prefix)
  }

  credential(identity: CredentialIdentity): CredentialStore {
    return new CredentialStore(this, this.link, identity, credentialKeys(identity, this.keyPrefix), {
      cipher: this.options.cipher,
      lockTtlMs: this.options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS,
      now: this.options.now ?? Date.now,
      metrics: this.metrics,
    })
  }

  /** Called whenever a connection comes back: announcements may have been missed, so re-read. */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener)
    return () => this.resyncListeners.delete(listener)
  }

  get connected(): boolean {
    return this.link.isReady
  }

  describe(): StoreDescription {
    return {
      kind: this.kind,
      target: this.link.target,
      keyPrefix: this.keyPrefix,
      encrypted: this.options.cipher.encrypts,
      keyId: this.options.cipher.keyId,
      replicaId: this.replicaId,
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.resyncListeners.clear()
    await Promise.all([...this.heldLocks].map((l) => l.release()))
    await this.link.close()
  }
}

interface CredentialDeps {
  cipher: StateCipher
  lockTtlMs: number
  now: () => number
  metrics: StoreMetrics
}

/** One credential's view of the store. */
export class CredentialStore {
  constructor(
    private readonly store: RedisTokenStore,
    private readonly link: RedisLink,
    readonly identity: CredentialIdentity,
    readonly keys: CredentialKeys,
    private readonly deps: CredentialDeps,
  ) {}

  /** The stored state and its version; undefined when absent (version 0). */
  async read(): Promise<VersionedState | undefined> {
    return this.timed('read', async () => {
      const reply = (await this.link.command(['HMGET', this.keys.state, 'v', 'd'], 'read')) as Array<string | null>
      const [v, d] = reply
      if (v === null || v === undefined || d === null || d === undefined) return { result: 'absent', value: undefined }
      const version = Number(v)
      if (!Number.isSafeInteger(version) || version < 1)
        throw new ProxyError('store_state_unreadable', 'the stored state has no valid version')
      return { result: 'ok', value: { version, state: this.open(d, version) } }
    })
  }

  /** Compare-and-set: stores `input` as expectedVersion + 1 only if the stored version is expectedVersion. */
  async write(expectedVersion: number, input: StateInput): Promise<WriteResult> {
    checkVersion(expectedVersion, 0, 'expectedVersion')
    return this.timed('write', () => this.runWrite(CAS_WRITE, expectedVersion, expectedVersion + 1, input, 'write'))
  }

  /** Stores `input` as `version` only if the stored version is lower (re-seeding an emptied Redis). */
  async seed(version: number, input: StateInput): Promise<WriteResult> {
    checkVersion(version, 1, 'version')
    return this.timed('seed', () => this.runWrite(SEED_WRITE, version, version, input, 'seed'))
  }

  /** The refresh lock; undefined when another replica held it for the whole wait. */
  async acquireLock(options: AcquireOptions): Promise<HeldLock | undefined> {
    const lock = await acquireLock(
      this.link,
      this.keys.lock,
      this.deps.lockTtlMs,
      options,
      this.deps.metrics,
      this.deps.now,
    )
    if (lock) {
      this.store.heldLocks.add(lock)
      lock.signal.addEventListener('abort', () => this.store.heldLocks.delete(lock), { once: true })
    }
    return lock
  }

  /**
   * The fleet's headless-login turn: stores `info` (what every replica shows: code and URI, never a token) for
   * `ttlMs` unless another replica's login is there; false then.
   */
  async claimLogin(info: string, ttlMs: number): Promise<boolean> {
    const reply = await this.link.command(
      ['SET', this.keys.login, info, 'NX', 'PX', String(Math.max(1, Math.round(ttlMs)))],
      'login',
    )
    return reply === 'OK'
  }

  /** The login another replica runs for the fleet, if any. */
  async readLogin(): Promise<string | undefined> {
    const reply = await this.link.command(['GET', this.keys.login], 'login')
    return typeof reply === 'string' ? reply : undefined
  }

  /** Ends this replica's login turn (compare-and-delete: a later replica's turn stays). */
  async releaseLogin(info: string): Promise<void> {
    await runScript(this.link, LOCK_RELEASE, [this.keys.login], [info])
  }

  /** Announcements of writes by any replica (this one included); resolves once subscribed. */
  onAnnouncement(listener: (a: Announcement) => void): Promise<() => Promise<void>> {
    return subscribeAnnouncements(this.link, this.keys.channel, listener, this.deps.metrics)
  }

  /** Re-read after reconnects (see RedisTokenStore.onResync). */
  onResync(listener: () => void): () => void {
    return this.store.onResync(listener)
  }

  private async runWrite(
    s: typeof CAS_WRITE,
    versionArg: number,
    newVersion: number,
    input: StateInput,
    kind: 'write' | 'seed',
  ): Promise<{ result: 'ok' | 'conflict'; value: WriteResult }> {
    const now = this.deps.now()
    const state: SharedState = {
      ...pickInput(input),
      identity: this.identity,
      writtenBy: this.store.replicaId,
      updatedAtMs: now,
    }
    const sealed = this.deps.cipher.seal(JSON.stringify({ version: newVersion, ...state }), this.aad(newVersion))
    const reply = (await runScript(
      this.link,
      s,
      [this.keys.state],
      [String(versionArg), sealed, this.store.replicaId, String(now), this.keys.channel, kind],
    )) as [number, number]
    const [ok, version] = reply
    return ok === 1
      ? { result: 'ok', value: { ok: true, version } }
      : { result: 'conflict', value: { ok: false, currentVersion: version } }
  }

  private open(sealed: string, version: number): SharedState {
    const text = this.deps.cipher.open(sealed, this.aad(version))
    let parsed: SharedState & { version?: unknown }
    try {
      parsed = JSON.parse(text) as SharedState & { version?: unknown }
    } catch {
      throw new ProxyError('store_state_unreadable', 'the stored state is not valid JSON')
    }
    // checked even when unencrypted (no associated data then): never adopt another credential's or version's state
    if (
      parsed.version !== version ||
      canonicalIdentity(parsed.identity ?? ({} as CredentialIdentity)) !== canonicalIdentity(this.identity)
    )
      throw new ProxyError('store_state_unreadable', 'the stored state belongs to another credential or version')
    delete parsed.version
    return parsed
  }

  private aad(version: number): string {
    return `${canonicalIdentity(this.identity)}#${version}`
  }

  private async timed<T>(
    operation: StoreOperation,
    work: () => Promise<{ result: 'ok' | 'absent' | 'conflict'; value: T }>,
  ): Promise<T> {
    const started = this.deps.now()
    try {
      const { result, value } = await work()
      this.deps.metrics.record({ operation, result, durationMs: this.deps.now() - started })
      return value
    } catch (err) {
      const code = err instanceof ProxyError ? err.code : 'internal_error'
      this.deps.metrics.record({ operation, result: 'error', durationMs: this.deps.now() - started, errorCode: code })
      throw err
    }
  }
}

function checkVersion(v: number, min: number, name: string): void {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be a whole number >= ${min}`)
}

function pickInput(input: StateInput): StateInput {
  const out: StateInput = {}
  if (input.refreshToken !== undefined) out.refreshToken = input.refreshToken
  if (input.accessToken !== undefined) out.accessToken = input.accessToken
  if (input.accessTokenExpiresAtMs !== undefined) out.accessTokenExpiresAtMs = input.accessTokenExpiresAtMs
  if (input.accessTokenObtainedAtMs !== undefined) out.accessTokenObtainedAtMs = input.accessTokenObtainedAtMs
  if (input.subject !== undefined) out.subject = input.subject
  return out
}
