// TokenManager with a fake clock and a fake grant: single flight, schedule, persistence order, backoff, terminal errors.
import t, { type Test } from 'tap'
import { FakeClock, settle } from '../../src/shared/clock.js'
import { OAuthError, ProxyError } from '../../src/shared/errors.js'
import type { Grant, GrantContext, TokenSet } from '../../src/oauth/types.js'
import { Secret } from '../../src/shared/secret.js'
import { TokenManager, lifetimeOf, type AccessToken } from '../../src/token/manager.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import type { CredentialState, TokenStore } from '../../src/token/store/types.js'
import { DEFAULT_TOKEN_SETTINGS, LogCapture } from '../helpers.js'

const SETTINGS = DEFAULT_TOKEN_SETTINGS

/** With random() = 0 a 100 s token is refreshed after exactly 50 s, and backoff is half the step. */
const REFRESH_AFTER_MS = 50_000
/** A 100 s token stops being served 5 s before it expires. */
const UNUSABLE_AFTER_MS = 95_000

interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(err: unknown): void
  settled: boolean
}

function deferred<T>(): Deferred<T> {
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
function tokenSet(n: number, expiresInS = 100): TokenSet {
  return { accessToken: `at-${n}`, tokenType: 'Bearer', expiresInS, refreshToken: `rt-${n}` }
}

type Answer = TokenSet | Error | 'hang'

/** A store whose saves wait until the test lets them finish. */
class GatedStore implements TokenStore {
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

interface Harness {
  manager: TokenManager
  clock: FakeClock
  logs: LogCapture
  store: TokenStore
  /** Every context the grant was called with. */
  calls: GrantContext[]
  /** Grant calls answered 'hang', in call order. */
  hanging: Array<Deferred<TokenSet>>
}

interface HarnessOptions {
  /** Answer of the n-th grant call (1-based); default: tokenSet(n). */
  answer?: (n: number, ctx: GrantContext) => Answer
  store?: TokenStore
  bootstrap?: string | undefined
  random?: () => number
  start?: boolean
}

/** A manager on a fake clock; stopped (after releasing hanging grant calls) at the end of the test. */
function harness(t: Test, options: HarnessOptions = {}): Harness {
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
function track(p: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected' } {
  const box: { state: 'pending' | 'resolved' | 'rejected' } = { state: 'pending' }
  p.then(
    () => (box.state = 'resolved'),
    () => (box.state = 'rejected'),
  )
  return box
}

const idpDown = (): ProxyError => new ProxyError('idp_unreachable', 'connect ECONNREFUSED')
const invalidGrant = (): OAuthError => new OAuthError('invalid_grant', 400, 'refresh token expired')

t.test('20 concurrent get() calls before any token make one grant call', async (t) => {
  const h = harness(t, { answer: () => 'hang' })
  const gets = Array.from({ length: 20 }, () => h.manager.get())
  await settle()
  t.equal(h.calls.length, 1)
  h.hanging[0]?.resolve(tokenSet(1))
  const tokens = await Promise.all(gets)
  t.same(new Set(tokens.map((tk) => tk.value)), new Set(['at-1']))
  t.equal(h.calls.length, 1)
})

t.test('get() without start() fetches on demand, once', async (t) => {
  const h = harness(t, { start: false })
  const [a, b] = await Promise.all([h.manager.get(), h.manager.get()])
  t.equal(a.value, 'at-1')
  t.equal(b.value, 'at-1')
  t.equal(h.calls.length, 1)
})

t.test('the first refresh uses the bootstrap refresh token', async (t) => {
  const h = harness(t)
  await h.manager.settled()
  t.same(h.calls, [{ refreshToken: 'rt-0' }])
  t.equal(h.manager.peek()?.value, 'at-1')
  t.equal(h.manager.health, 'valid')
  t.equal(h.logs.events('token.bootstrap_used').length, 1)
})

t.test('a token is refreshed on schedule, and the old one is served meanwhile', async (t) => {
  const h = harness(t, { answer: (n) => (n === 2 ? 'hang' : tokenSet(n)) })
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS - 1)
  t.equal(h.calls.length, 1, 'not yet due')
  await h.clock.advance(1)
  t.equal(h.calls.length, 2, 'refresh started when due')
  t.same(h.calls[1], { refreshToken: 'rt-1' }, 'with the rotated refresh token')
  t.equal(h.manager.peek()?.value, 'at-1', 'old token still served')
  t.equal((await h.manager.get()).value, 'at-1', 'get() does not wait for the refresh')
  h.hanging[0]?.resolve(tokenSet(2))
  await h.manager.settled()
  t.equal(h.manager.peek()?.value, 'at-2')
  t.same(
    h.logs.events('token.refreshed').map((e) => e.reason),
    ['startup', 'scheduled'],
  )
})

t.test('tokens keep being refreshed every 50 s', async (t) => {
  const h = harness(t)
  await h.manager.settled()
  await h.clock.advance(10 * REFRESH_AFTER_MS)
  t.equal(h.calls.length, 11)
  t.equal(h.manager.peek()?.value, 'at-11')
})

t.test('a rotated refresh token is saved before the new access token is served', async (t) => {
  const store = new GatedStore()
  const h = harness(t, { store })
  store.peek = () => h.manager.peek()
  await settle()
  t.equal(store.pending.length, 1, 'first save under way')
  t.equal(h.manager.peek(), undefined, 'no token before rt-1 is saved')
  store.pending[0]?.resolve()
  await h.manager.settled()
  t.equal(h.manager.peek()?.value, 'at-1')

  await h.clock.advance(REFRESH_AFTER_MS)
  t.equal(h.calls.length, 2)
  t.equal(store.pending.length, 2, 'second save under way')
  t.equal(h.manager.peek()?.value, 'at-1', 'still the old token while rt-2 is being saved')
  t.equal(store.memory.load('default')?.refreshToken, 'rt-1')
  store.pending[1]?.resolve()
  await h.manager.settled()
  t.equal(h.manager.peek()?.value, 'at-2')
  t.equal(store.memory.load('default')?.refreshToken, 'rt-2')
  t.same(store.seenAtSave, [undefined, 'at-1'], 'each save began before its access token was visible')
})

t.test('a failed state write is logged, retried, and does not stop the token being served', async (t) => {
  let failNext = true
  const memory = new MemoryStore()
  const store: TokenStore = {
    load: (c) => memory.load(c),
    save: async (c, s) => {
      if (failNext) {
        failNext = false
        throw new ProxyError('state_write_failed', 'disk full')
      }
      await memory.save(c, s)
    },
    close: async () => {},
  }
  const h = harness(t, { store })
  await h.manager.settled()
  t.equal(h.manager.peek()?.value, 'at-1')
  t.equal(h.logs.events('state.write_failed').length, 1)
  t.equal(h.manager.status().stateWritePending, true)
  await h.clock.advance(5000)
  t.equal(memory.load('default')?.refreshToken, 'rt-1')
  t.equal(h.logs.events('state.write_recovered').length, 1)
  t.equal(h.manager.status().stateWritePending, false)
})

t.test('after a transient failure the grant is not called again before the backoff delay', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? idpDown() : tokenSet(n)) })
  await h.manager.settled()
  t.equal(h.manager.health, 'failing')
  const [failed] = h.logs.events('token.refresh_failed')
  t.match(failed, { attempt: 1, retryInMs: 500, err: { code: 'idp_unreachable' } })
  await h.clock.advance(499)
  t.equal(h.calls.length, 1, 'still backing off')
  await h.clock.advance(1)
  t.equal(h.calls.length, 2, 'retried after 500 ms')
  await h.manager.settled()
  t.equal(h.manager.peek()?.value, 'at-2')
  t.equal(h.manager.health, 'valid')
})

t.test('consecutive failures back off longer each time', async (t) => {
  const h = harness(t, { answer: () => idpDown() })
  await h.manager.settled()
  await h.clock.advance(500 + 1000 + 2000 + 4000)
  t.equal(h.calls.length, 5)
  t.same(
    h.logs.events('token.refresh_failed').map((e) => e.retryInMs),
    [500, 1000, 2000, 4000, 8000],
  )
})

t.test('a failed refresh keeps serving the still-valid token', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : idpDown()) })
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS)
  t.equal(h.calls.length, 2)
  t.equal(h.manager.health, 'valid')
  t.equal(h.manager.peek()?.value, 'at-1')
  t.equal((await h.manager.get()).value, 'at-1')
})

t.test('an OAuth error with Retry-After is honoured', async (t) => {
  const busy = new OAuthError('temporarily_unavailable', 429, 'rate limited', { retryAfterS: 30 })
  const h = harness(t, { answer: (n) => (n === 1 ? busy : tokenSet(n)) })
  await h.manager.settled()
  await h.clock.advance(29_999)
  t.equal(h.calls.length, 1)
  await h.clock.advance(1)
  t.equal(h.calls.length, 2)
  await h.manager.settled()
  t.equal(h.manager.peek()?.value, 'at-2')
})

t.test('get() during backoff without a valid token rejects token_unavailable with Retry-After', async (t) => {
  const busy = new OAuthError('temporarily_unavailable', 429, 'rate limited', { retryAfterS: 30 })
  const h = harness(t, { answer: () => busy })
  await h.manager.settled()
  await h.clock.advance(10_000)
  await t.rejects(h.manager.get(), { code: 'token_unavailable', retryAfterS: 20 })
  t.equal(h.calls.length, 1, 'get() did not call the IdP during backoff')
})

t.test('get() that joins a failing refresh rejects token_unavailable', async (t) => {
  const h = harness(t, { answer: () => 'hang' })
  const got = h.manager.get()
  h.hanging[0]?.reject(idpDown())
  await t.rejects(got, { code: 'token_unavailable' })
  const err = (await got.catch((e: unknown) => e)) as ProxyError
  t.ok((err.retryAfterS ?? 0) > 0)
})

t.test('invalid_grant: login_required, get() rejects, no more grant calls', async (t) => {
  const h = harness(t, { answer: () => invalidGrant() })
  await h.manager.settled()
  t.equal(h.manager.health, 'login_required')
  await t.rejects(h.manager.get(), { code: 'login_required' })
  await h.clock.advance(10 * 60_000)
  await t.rejects(h.manager.get(), { code: 'login_required' })
  t.equal(h.calls.length, 1)
  t.equal(h.logs.events('token.login_required').length, 1)
})

t.test('after invalid_grant the still-valid token is served until it expires', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : invalidGrant()) })
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS)
  t.equal(h.calls.length, 2)
  t.equal(h.manager.health, 'login_required')
  t.equal(h.manager.peek()?.value, 'at-1')
  await h.clock.advance(UNUSABLE_AFTER_MS - REFRESH_AFTER_MS - 1)
  t.equal((await h.manager.get()).value, 'at-1', 'served until 5 s before expiry')
  await h.clock.advance(1)
  t.equal(h.manager.peek(), undefined)
  await t.rejects(h.manager.get(), { code: 'login_required' })
  t.equal(h.calls.length, 2, 'no retry of a rejected refresh token')
})

t.test('after invalid_grant an upstream 401 does not send the rejected refresh token again', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : invalidGrant()) })
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS)
  t.equal(h.calls.length, 2)
  await t.rejects(h.manager.forceRefresh('at-1'), { code: 'login_required' })
  t.equal(h.calls.length, 2)
})

t.test('invalid_client: credential_rejected', async (t) => {
  const h = harness(t, { answer: () => new OAuthError('invalid_client', 401, 'bad secret') })
  await h.manager.settled()
  t.equal(h.manager.health, 'credential_rejected')
  await t.rejects(h.manager.get(), { code: 'credential_rejected' })
  await h.clock.advance(10 * 60_000)
  t.equal(h.calls.length, 1)
})

t.test('a wall-clock jump triggers a refresh at the next clock check', async (t) => {
  const h = harness(t)
  await h.manager.settled()
  h.clock.jumpWallClock(10 * 60_000)
  t.equal(h.calls.length, 1)
  await h.clock.advance(1000)
  t.equal(h.calls.length, 2)
  await h.manager.settled()
  t.equal(h.manager.peek()?.value, 'at-2')
  t.same(
    h.logs.events('clock.jump_detected').map((e) => e.jumpMs),
    [600_000],
  )
  t.same(
    h.logs.events('token.refreshed').map((e) => e.reason),
    ['startup', 'clock_jump'],
  )
})

t.test('a small clock drift does not trigger a refresh', async (t) => {
  const h = harness(t)
  await h.manager.settled()
  h.clock.jumpWallClock(SETTINGS.clockJumpMs)
  await h.clock.advance(1000)
  t.equal(h.calls.length, 1)
  t.same(h.logs.events('clock.jump_detected'), [])
})

t.test('an expired token is never returned: a slow refresh is not repeated, get() is refused meanwhile', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : 'hang') })
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS)
  t.equal(h.calls.length, 2, 'refresh hanging')
  await h.clock.advance(UNUSABLE_AFTER_MS - REFRESH_AFTER_MS - 1)
  t.equal(h.manager.peek()?.value, 'at-1')
  await h.clock.advance(1)
  t.equal(h.manager.peek(), undefined)
  // the refresh has been waited for longer than idpTimeoutMs: callers are refused at once
  await t.rejects(h.manager.get(), { code: 'token_unavailable', retryAfterS: 1 })
  await h.clock.advance(40_000)
  t.equal(h.manager.peek(), undefined)
  t.equal(h.calls.length, 2, 'no second refresh while the first may still answer')
  h.hanging[0]?.resolve(tokenSet(2))
  await h.manager.settled()
  t.equal((await h.manager.get()).value, 'at-2', 'the late answer is used')
})

t.test('a stale stored refresh token falls back to the configured one', async (t) => {
  const store = new MemoryStore()
  await store.save('default', { refreshToken: 'rt-stale' })
  const h = harness(t, {
    store,
    bootstrap: 'rt-boot',
    answer: (_n, ctx) => (ctx.refreshToken === 'rt-boot' ? tokenSet(1) : invalidGrant()),
  })
  await h.manager.settled()
  await h.clock.advance(0)
  await h.manager.settled()
  t.same(
    h.calls.map((c) => c.refreshToken),
    ['rt-stale', 'rt-boot'],
  )
  t.equal(h.manager.health, 'valid')
  t.equal(h.manager.peek()?.value, 'at-1')
  t.equal(store.load('default')?.refreshToken, 'rt-1')
  t.equal(h.logs.events('token.bootstrap_deferred').length, 1)
  t.equal(h.logs.events('token.bootstrap_fallback').length, 1)
})

t.test('the configured refresh token is tried only once', async (t) => {
  const store = new MemoryStore()
  await store.save('default', { refreshToken: 'rt-stale' })
  const h = harness(t, { store, bootstrap: 'rt-boot', answer: () => invalidGrant() })
  await h.manager.settled()
  await h.clock.advance(0)
  await h.manager.settled()
  await h.clock.advance(10 * 60_000)
  t.same(
    h.calls.map((c) => c.refreshToken),
    ['rt-stale', 'rt-boot'],
  )
  t.equal(h.manager.health, 'login_required')
})

t.test('forceRefresh() joins a refresh in flight', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : 'hang') })
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS)
  t.equal(h.calls.length, 2)
  const forced = h.manager.forceRefresh('at-1')
  await settle()
  t.equal(h.calls.length, 2, 'no second refresh')
  h.hanging[0]?.resolve(tokenSet(2))
  t.equal((await forced).value, 'at-2')
})

t.test('forceRefresh() returns the current token when it is newer than the rejected one', async (t) => {
  const h = harness(t)
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS)
  await h.manager.settled()
  t.equal(h.manager.peek()?.value, 'at-2')
  t.equal((await h.manager.forceRefresh('at-1')).value, 'at-2')
  t.equal(h.calls.length, 2)
})

t.test('forceRefresh() of the current token refreshes once, then cools down', async (t) => {
  const h = harness(t)
  await h.manager.settled()
  t.equal((await h.manager.forceRefresh('at-1')).value, 'at-2')
  t.equal(h.calls.length, 2)
  t.equal((await h.manager.forceRefresh('at-2')).value, 'at-2', 'within the cooldown')
  t.equal(h.calls.length, 2)
  await h.clock.advance(5000)
  t.equal((await h.manager.forceRefresh('at-2')).value, 'at-3', 'after the cooldown')
  t.equal(h.calls.length, 3)
})

t.test('stop() waits for a refresh in flight and keeps its refresh token', async (t) => {
  const h = harness(t, { answer: () => 'hang' })
  await settle()
  const stopping = track(h.manager.stop())
  await settle()
  t.equal(stopping.state, 'pending')
  h.hanging[0]?.resolve(tokenSet(1))
  await h.manager.settled()
  await settle()
  t.equal(stopping.state, 'resolved')
  t.equal(h.manager.health, 'stopped')
  t.equal(h.store.load('default')?.refreshToken, 'rt-1')
})

t.test('after stop() no timer refreshes and get() without a token rejects', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? idpDown() : tokenSet(n)) })
  await h.manager.settled()
  await h.manager.stop()
  await h.clock.advance(10 * 60_000)
  t.equal(h.calls.length, 1)
  await t.rejects(h.manager.get(), { code: 'token_unavailable' })
  t.equal(h.clock.pendingTimers, 0)
})

t.test('status() describes the credential', async (t) => {
  const h = harness(t)
  await h.manager.settled()
  const s = h.manager.status()
  t.match(s, {
    credential: 'default',
    grant: 'refresh_token',
    health: 'valid',
    accessTokenExpiresAtMs: h.clock.now() + 100_000,
    accessTokenRemainingMs: 100_000,
    nextRefreshAtMs: h.clock.now() + REFRESH_AFTER_MS,
    consecutiveFailures: 0,
    refreshes: 1,
    failures: 0,
    stateWritePending: false,
  })
  t.notOk(JSON.stringify(s).includes('at-1'), 'no token in the status')
})

t.test(
  'lifetimeOf: an exp claim rounded down to a whole second shortens the lifetime, clock skew does not',
  async (t) => {
    const jwt = (claims: Record<string, unknown>): string =>
      ['{"alg":"none"}', JSON.stringify(claims)].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.'
    const set = (accessToken: string, expiresInS = 100): TokenSet => ({ accessToken, tokenType: 'Bearer', expiresInS })
    const sent = 1_700_000_000_400 // 0.4 s past a whole second
    t.equal(lifetimeOf(set('opaque-token'), sent), 100_000, 'opaque token: expires_in')
    t.equal(lifetimeOf(set(jwt({ sub: 'alice' })), sent), 100_000, 'no exp claim: expires_in')
    t.equal(lifetimeOf(set(jwt({ exp: 'soon' })), sent), 100_000, 'non-numeric exp: expires_in')
    t.equal(lifetimeOf(set(jwt({ exp: 1_700_000_100 })), sent), 99_600, 'iat rounded down: exp wins')
    t.equal(lifetimeOf(set(jwt({ exp: 1_700_000_101 })), sent), 100_000, 'exp later than expires_in: expires_in')
    t.equal(lifetimeOf(set(jwt({ exp: 1_700_000_040 })), sent), 100_000, 'IdP clock 60 s behind: expires_in')
    t.equal(lifetimeOf(set(jwt({ exp: 1_700_000_001 }), 2), sent), 1_000, 'never below half of expires_in')
  },
)

t.test('a token whose exp is a rounding earlier than expires_in expires that much earlier', async (t) => {
  const start = Date.UTC(2026, 0, 1) // harness clock start, a whole second
  const exp = start / 1000 + 100 // issued 0.7 s before the request, rounded down
  const claims = Buffer.from(JSON.stringify({ exp })).toString('base64url')
  const h = harness(t, {
    start: false,
    answer: (n) => ({ ...tokenSet(n), accessToken: `e30.${claims}.` }),
  })
  await h.clock.advance(700)
  h.manager.start()
  const token = await h.manager.get()
  t.equal(token.lifetimeMs, 99_300)
  t.equal(token.expiresAtMs, exp * 1000)
  t.equal(token.expiresAtMono - token.obtainedAtMono, 99_300)
})

t.test('outage recovery: retries while a token is held do not lengthen the wait once it has run out', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : idpDown()) })
  await h.manager.settled()
  await h.clock.advance(UNUSABLE_AFTER_MS + 1)
  t.equal(h.manager.peek(), undefined, 'the held token has run out')
  const retries = h.logs.events('token.refresh_failed').map((e) => e.retryInMs as number)
  t.ok(retries.length >= 4, `retried while the token was usable (${retries.join(', ')} ms)`)
  const last = retries[retries.length - 1] ?? Infinity
  t.ok(last <= SETTINGS.backoffInitialMs, `the first wait after the token ran out is short (${last} ms)`)
})

t.test('outage recovery: a request starts an attempt at most every demandRetryMs', async (t) => {
  let down = true
  const h = harness(t, { answer: (n) => (down ? idpDown() : tokenSet(n)) })
  await h.manager.settled()
  await h.clock.advance(10 * 60_000) // a 10 min outage before any token
  const background = h.calls.length
  t.ok(background <= 30, `background retries back off (${background} calls in 10 min)`)
  // callers every 100 ms for 10 s: at most one attempt per second
  for (let i = 0; i < 100; i++) {
    await h.manager.get().catch(() => {})
    await h.clock.advance(100)
  }
  const demanded = h.calls.length - background
  t.ok(demanded >= 9 && demanded <= 11, `about one attempt a second with callers (${demanded} in 10 s)`)
  // Retry-After is the real time until a request may start the next attempt
  const err = (await h.manager.get().catch((e: unknown) => e)) as ProxyError
  t.equal(err.code, 'token_unavailable')
  t.equal(err.retryAfterS, 1)
  down = false
  await h.clock.advance(SETTINGS.demandRetryMs)
  t.equal((await h.manager.get()).value, `at-${h.calls.length}`, 'served at the first attempt after the return')
})

t.test('outage recovery: Retry-After from the identity provider also holds callers back', async (t) => {
  const busy = new OAuthError('temporarily_unavailable', 429, 'rate limited', { retryAfterS: 10 })
  const h = harness(t, { answer: (n) => (n <= 2 ? busy : tokenSet(n)) })
  await h.manager.settled()
  await h.clock.advance(3000)
  await t.rejects(h.manager.get(), { code: 'token_unavailable', retryAfterS: 7 })
  t.equal(h.calls.length, 1, 'no attempt before Retry-After')
})

t.test('429 with Retry-After twice near the end of a short token: a retry lands before it runs out', async (t) => {
  const busy = (): OAuthError => new OAuthError('temporarily_unavailable', 429, 'rate limited', { retryAfterS: 2 })
  // 10 s tokens: refreshed after 5 s, served until 9 s (a tenth of the lifetime is kept as margin)
  const h = harness(t, { answer: (n) => (n === 2 || n === 3 ? busy() : tokenSet(n, 10)) })
  await h.manager.settled()
  await h.clock.advance(5000)
  t.equal(h.calls.length, 2, 'refresh at 5 s answered 429')
  await h.clock.advance(2000)
  t.equal(h.calls.length, 3, 'retry after Retry-After, answered 429 again')
  await h.clock.advance(1900) // 8.9 s
  t.equal(h.calls.length, 4, 'a third attempt before the usable end at 9 s')
  t.equal(h.manager.peek()?.value, 'at-4', 'a fresh token is held before the old one runs out')
})

t.test('a slow refresh answer: callers get 503 at idpTimeoutMs, the late answer is saved and used', async (t) => {
  for (const delayMs of [20_000, 60_000]) {
    const store = new MemoryStore()
    const h = harness(t, { store, answer: (n) => (n === 2 ? 'hang' : tokenSet(n)) })
    await h.manager.settled()
    await h.clock.advance(UNUSABLE_AFTER_MS) // the refresh at 50 s hangs; the token has run out
    t.equal(h.calls.length, 2)
    await t.rejects(h.manager.get(), { code: 'token_unavailable' })
    await h.clock.advance(delayMs - (UNUSABLE_AFTER_MS - REFRESH_AFTER_MS))
    t.equal(h.calls.length, 2, `no second refresh with the same refresh token (${delayMs} ms)`)
    h.hanging[0]?.resolve(tokenSet(2))
    await h.manager.settled()
    t.equal(store.load('default')?.refreshToken, 'rt-2', 'the late rotated refresh token is saved')
    t.equal((await h.manager.get()).value, 'at-2', 'and its access token used')
    await h.clock.advance(REFRESH_AFTER_MS)
    t.same(h.calls[2], { refreshToken: 'rt-2' }, 'the next refresh uses the late refresh token')
  }
})

t.test('a refresh answer lost for good: retried once after refreshAnswerTimeoutMs, one clear log line', async (t) => {
  const h = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : n === 2 ? 'hang' : invalidGrant()) })
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS + SETTINGS.refreshAnswerTimeoutMs - 1)
  t.equal(h.calls.length, 2, 'waited for the answer up to refreshAnswerTimeoutMs')
  await h.clock.advance(1)
  t.equal(h.logs.events('token.refresh_answer_timeout').length, 1)
  await h.clock.advance(SETTINGS.backoffInitialMs)
  t.equal(h.calls.length, 3, 'retried with the held refresh token')
  t.same(h.calls[2], { refreshToken: 'rt-1' })
  const lost = h.logs.events('token.refresh_answer_lost')
  t.equal(lost.length, 1, 'one line says the answer was lost')
  t.match(lost[0]?.hint, /oac-token-proxy login/)
  t.equal(h.logs.events('token.login_required').length, 0, 'and no second line for the same thing')
  t.equal(h.manager.health, 'login_required')
})

t.test('a dropped connection after the server rotated: the refused retry is reported as a lost answer', async (t) => {
  const dropped = (): ProxyError =>
    new ProxyError('idp_unreachable', 'socket closed', {
      cause: Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }),
    })
  const h = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : n === 2 ? dropped() : invalidGrant()) })
  await h.manager.settled()
  await h.clock.advance(REFRESH_AFTER_MS + SETTINGS.backoffInitialMs)
  t.equal(h.calls.length, 3)
  t.equal(h.logs.events('token.refresh_answer_lost').length, 1)
  // a refused connection was never processed: a later invalid_grant is an ordinary one
  const refused = (): ProxyError =>
    new ProxyError('idp_unreachable', 'refused', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) })
  const h2 = harness(t, { answer: (n) => (n === 1 ? tokenSet(1) : n === 2 ? refused() : invalidGrant()) })
  await h2.manager.settled()
  await h2.clock.advance(REFRESH_AFTER_MS + SETTINGS.backoffInitialMs)
  t.equal(h2.logs.events('token.refresh_answer_lost').length, 0)
  t.equal(h2.logs.events('token.login_required').length, 1)
})

t.test('login_required and credential_rejected carry a Retry-After', async (t) => {
  const h = harness(t, { answer: () => invalidGrant() })
  await h.manager.settled()
  await t.rejects(h.manager.get(), { code: 'login_required', retryAfterS: 60 })
  const h2 = harness(t, { answer: () => new OAuthError('invalid_client', 401, 'client authentication failed') })
  await h2.manager.settled()
  await t.rejects(h2.manager.get(), { code: 'credential_rejected', retryAfterS: 60 })
  const h3 = harness(t, { answer: () => new ProxyError('login_required', 'no refresh token is available') })
  await h3.manager.settled()
  await t.rejects(h3.manager.get(), { code: 'login_required', retryAfterS: 60 })
})

t.test('a login while running serves its own access token: no extra refresh', async (t) => {
  const h = harness(t, { answer: () => invalidGrant() })
  await h.manager.settled()
  t.equal(h.manager.health, 'login_required')
  const calls = h.calls.length
  const token = await h.manager.adoptLoginTokens(tokenSet(42), h.clock.now())
  t.equal(token.value, 'at-42')
  t.equal(h.calls.length, calls, 'the grant was not called')
  t.equal(h.store.load('default')?.refreshToken, 'rt-42', 'the refresh token is saved')
  t.equal((await h.manager.get()).value, 'at-42')
  t.equal(h.manager.health, 'valid')
})
