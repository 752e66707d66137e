// The refresh lock: SET NX PX with a random owner, renewed while held, released by compare-and-delete.
import { randomBytes } from 'node:crypto'
import { ProxyError } from '../../../shared/errors.js'
import type { RedisLink } from './link.js'
import type { StoreMetrics } from './metrics.js'
import { LOCK_RELEASE, LOCK_RENEW, runScript } from './scripts.js'

/** Well above a token endpoint call's timeout: the lock must outlive the slowest call it guards. */
export const DEFAULT_LOCK_TTL_MS = 30_000
/** Waiting for another replica's lock: first poll delay, doubled up to the cap (plus jitter). */
export const LOCK_POLL_FIRST_MS = 20
export const LOCK_POLL_MAX_MS = 250

/** The lock TTL for a token endpoint timeout: at least 3 times the timeout and never below the default. */
export function lockTtlFor(tokenEndpointTimeoutMs: number): number {
  return Math.max(DEFAULT_LOCK_TTL_MS, 3 * tokenEndpointTimeoutMs)
}

export interface AcquireOptions {
  /** Gives up (resolves undefined) after this long; 0 tries once. */
  waitMs: number
  /** Aborting rejects with the signal's reason. */
  signal?: AbortSignal
}

/** A held lock. It renews itself every third of its TTL until released or lost. */
export class HeldLock {
  private readonly controller = new AbortController()
  private timer: NodeJS.Timeout | undefined
  private renewedAtMs: number
  private released = false

  constructor(
    private readonly link: RedisLink,
    private readonly key: string,
    /** Random per acquisition: a stale holder can never renew or delete a later holder's lock. */
    readonly owner: string,
    readonly ttlMs: number,
    private readonly metrics: StoreMetrics,
    private readonly now: () => number,
  ) {
    this.renewedAtMs = now()
    this.schedule()
  }

  /** Aborted when the lock is lost (expired or taken over): the work it guards must not write as its holder. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  get held(): boolean {
    return !this.released && !this.controller.signal.aborted
  }

  /** Renews now; false (and the signal aborted) if the lock is no longer this owner's. */
  async renew(): Promise<boolean> {
    if (!this.held) return false
    const started = this.now()
    try {
      const extended = await runScript(this.link, LOCK_RENEW, [this.key], [this.owner, String(this.ttlMs)])
      const ok = extended === 1
      this.metrics.record({ operation: 'lock_renew', result: ok ? 'ok' : 'lost', durationMs: this.now() - started })
      if (ok) this.renewedAtMs = started
      else this.lose('the lock expired or another replica took it')
      return ok
    } catch (err) {
      this.metrics.record({
        operation: 'lock_renew',
        result: 'error',
        durationMs: this.now() - started,
        errorCode: (err as ProxyError).code,
      })
      if (this.now() - this.renewedAtMs >= this.ttlMs) this.lose('the lock could not be renewed before its TTL')
      return false
    }
  }

  /** Compare-and-delete; true if this owner still held it. Safe to call twice. */
  async release(): Promise<boolean> {
    if (this.released) return false
    this.released = true
    clearTimeout(this.timer)
    const started = this.now()
    try {
      const deleted = await runScript(this.link, LOCK_RELEASE, [this.key], [this.owner])
      this.metrics.record({
        operation: 'lock_release',
        result: deleted === 1 ? 'ok' : 'lost',
        durationMs: this.now() - started,
      })
      return deleted === 1
    } catch (err) {
      this.metrics.record({
        operation: 'lock_release',
        result: 'error',
        durationMs: this.now() - started,
        errorCode: (err as ProxyError).code,
      })
      // the TTL frees it anyway
      return false
    } finally {
      if (!this.controller.signal.aborted)
        this.controller.abort(new ProxyError('internal_error', 'the lock was released'))
    }
  }

  private schedule(): void {
    this.timer = setTimeout(
      () => {
        void this.renew().then(() => this.held && this.schedule())
      },
      Math.max(1, Math.floor(this.ttlMs / 3)),
    )
    this.timer.unref()
  }

  private lose(why: string): void {
    clearTimeout(this.timer)
    if (!this.controller.signal.aborted) this.controller.abort(new ProxyError('store_unavailable', why))
  }
}

/** SET NX PX, retried with backoff until `waitMs` passes (undefined) or the signal aborts (rejects). */
export async function acquireLock(
  link: RedisLink,
  key: string,
  ttlMs: number,
  options: AcquireOptions,
  metrics: StoreMetrics,
  now: () => number,
): Promise<HeldLock | undefined> {
  const started = now()
  const owner = randomBytes(18).toString('base64url')
  let delay = LOCK_POLL_FIRST_MS
  let waited = false
  for (;;) {
    options.signal?.throwIfAborted()
    const attemptStart = now()
    let reply: unknown
    try {
      reply = await link.command(['SET', key, owner, 'NX', 'PX', String(ttlMs)], 'lock')
    } catch (err) {
      metrics.record({
        operation: 'lock_acquire',
        result: 'error',
        durationMs: now() - attemptStart,
        errorCode: (err as ProxyError).code,
      })
      throw err
    }
    if (reply === 'OK') {
      metrics.record({ operation: 'lock_acquire', result: 'ok', durationMs: now() - attemptStart })
      if (waited) {
        metrics.lockWaitCount++
        metrics.lockWaitTotalMs += now() - started
      }
      return new HeldLock(link, key, owner, ttlMs, metrics, now)
    }
    metrics.record({ operation: 'lock_acquire', result: 'busy', durationMs: now() - attemptStart })
    const remaining = started + options.waitMs - now()
    if (remaining <= 0) {
      metrics.record({ operation: 'lock_acquire', result: 'timeout', durationMs: now() - started })
      return undefined
    }
    waited = true
    await sleep(Math.min(remaining, delay * (1 + Math.random() * 0.5)), options.signal)
    delay = Math.min(delay * 2, LOCK_POLL_MAX_MS)
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
