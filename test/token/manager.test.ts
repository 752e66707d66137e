// TokenManager with a fake clock and a fake grant: single flight, schedule, persistence order, forced refreshes, stop, status, login.
import t from 'tap'
import { settle } from '../../src/shared/clock.js'
import { ProxyError } from '../../src/shared/errors.js'
import type { TokenSet } from '../../src/oauth/types.js'
import { lifetimeOf } from '../../src/token/manager.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import type { TokenStore } from '../../src/token/store/types.js'
import { GatedStore, REFRESH_AFTER_MS, harness, idpDown, invalidGrant, tokenSet, track } from './manager-harness.js'

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
