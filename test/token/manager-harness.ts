// A TokenManager on a fake clock with a scripted grant and stores that can hold saves back: the token manager tests' harness.
import type { Test } from 'tap'
import { FakeClock } from '../../src/shared/clock.js'
import { OAuthError, ProxyError } from '../../src/shared/errors.js'
import type { Grant, GrantContext, TokenSet } from '../../src/oauth/types.js'
import { Secret } from '../../src/shared/secret.js'
import { TokenManager, type AccessToken } from '../../src/token/manager.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import type { CredentialState, TokenStore } from '../../src/token/store/types.js'
import { DEFAULT_TOKEN_SETTINGS, LogCapture } from '../helpers.js'

export const SETTINGS = DEFAULT_TOKEN_SETTINGS

/** With random() = 0 a 100 s token is refreshed after exactly 50 s, and backoff is half the step. */
export const REFRESH_AFTER_MS = 50_000
/** A 100 s token stops being served 5 s before it expires. */
export const UNUSABLE_AFTER_MS = 95_000

export interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(err: unknown): void
  settled: boolean
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (err: unknown) => void
  const d: Deferred<T> = {
    promise: new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    }),
    resolve: (v) => {
      d.settled = true
      resolve(v)
    },
    reject: (e) => {
      d.settled = true
      reject(e)
    },
    settled: false,
  }
  return d
}

/** The token set the fake IdP answers on its n-th call: at-n / rt-n, 100 s. */
export function tokenSet(n: number, expiresInS = 100): TokenSet {
  return { accessToken: `at-${n}`, tokenType: 'Bearer', expiresInS, refreshToken: `rt-${n}` }
}

export type Answer = TokenSet | Error | 'hang'

/** A store whose saves wait until the test lets them finish. */
export class GatedStore implements TokenStore {
  readonly memory = new MemoryStore()
  readonly pending: Array<Deferred<void>> = []
  /** What peek() returned at the moment each save began. */
  readonly seenAtSave: Array<string | undefined> = []
  peek: () => AccessToken | undefined = () => undefined
  load(credential: string): CredentialState | undefined {
    return this.memory.load(credential)
  }
  async save(credential: string, state: CredentialState): Promise<void> {
    this.seenAtSave.push(this.peek()?.value)
    const gate = deferred<void>()
    this.pending.push(gate)
    await gate.promise
    await this.memory.save(credential, state)
  }
  async close(): Promise<void> {}
}

export interface Harness {
  manager: TokenManager
  clock: FakeClock
  logs: LogCapture
  store: TokenStore
  /** Every context the grant was called with. */
  calls: GrantContext[]
  /** Grant calls answered 'hang', in call order. */
  hanging: Array<Deferred<TokenSet>>
}

export interface HarnessOptions {
  /** Answer of the n-th grant call (1-based); default: tokenSet(n). */
  answer?: (n: number, ctx: GrantContext) => Answer
  store?: TokenStore
  bootstrap?: string | undefined
  random?: () => number
  start?: boolean
}

/** A manager on a fake clock; stopped (after releasing hanging grant calls) at the end of the test. */
export function harness(t: Test, options: HarnessOptions = {}): Harness {
  const clock = new FakeClock()
  const logs = new LogCapture()
  const store = options.store ?? new MemoryStore()
  const calls: GrantContext[] = []
  const hanging: Array<Deferred<TokenSet>> = []
  const answer = options.answer ?? ((n: number) => tokenSet(n))
  const grant: Grant = {
    name: 'refresh_token',
    needsRefreshToken: true,
    async run(ctx) {
      calls.push({ refreshToken: ctx.refreshToken })
      const a = answer(calls.length, ctx)
      if (a === 'hang') {
        const d = deferred<TokenSet>()
        hanging.push(d)
        ctx.signal?.addEventListener('abort', () => {
          if (!d.settled) d.reject(new ProxyError('idp_unreachable', 'aborted', { cause: ctx.signal?.reason }))
        })
        return d.promise
      }
      if (a instanceof Error) throw a
      return a
    },
  }
  const bootstrap = 'bootstrap' in options ? options.bootstrap : 'rt-0'
  const manager = new TokenManager({
    name: 'default',
    grant,
    store,
    settings: SETTINGS,
    logger: logs.logger(),
    clock,
    bootstrapRefreshToken: bootstrap === undefined ? undefined : new Secret(bootstrap, 'test'),
    random: options.random ?? (() => 0),
  })
  t.teardown(async () => {
    for (const d of hanging) if (!d.settled) d.reject(new ProxyError('idp_unreachable', 'test over'))
    if (store instanceof GatedStore) for (const g of store.pending) g.resolve()
    await manager.stop()
  })
  if (options.start !== false) manager.start()
  return { manager, clock, logs, store, calls, hanging }
}

/** 'pending' until the promise settles, then 'resolved' or 'rejected'. */
export function track(p: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected' } {
  const box: { state: 'pending' | 'resolved' | 'rejected' } = { state: 'pending' }
  p.then(
    () => (box.state = 'resolved'),
    () => (box.state = 'rejected'),
  )
  return box
}

export const idpDown = (): ProxyError => new ProxyError('idp_unreachable', 'connect ECONNREFUSED')
export const invalidGrant = (): OAuthError => new OAuthError('invalid_grant', 400, 'refresh token expired')
