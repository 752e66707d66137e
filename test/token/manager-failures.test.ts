// TokenManager when refreshes fail: backoff, Retry-After, terminal errors, clock jumps, the configured refresh token as fallback.
import t from 'tap'
import { OAuthError, ProxyError } from '../../src/shared/errors.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import {
  REFRESH_AFTER_MS,
  SETTINGS,
  UNUSABLE_AFTER_MS,
  harness,
  idpDown,
  invalidGrant,
  tokenSet,
} from './manager-harness.js'

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
