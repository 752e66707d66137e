// TokenManager through an identity provider outage: retry pacing, callers' attempts, slow and lost answers.
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
