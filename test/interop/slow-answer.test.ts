// Against node-oidc-provider: a refresh the server rotated but answered late (20 s, 60 s) or never (dropped connection).
import t, { type Test } from 'tap'
import { FakeClock, systemClock, type Clock } from '../../src/shared/clock.js'
import type { ProxyConfig } from '../../src/config/types.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import { waitFor } from '../helpers.js'
import { browserLogin, interopConfig, startIdp, startInteropProxy, startOac, type Idp, type Oac } from './idp.js'

interface Setup {
  idp: Idp
  oac: Oac
  config: ProxyConfig
  store: MemoryStore
  loginRefreshToken: string
}

async function setup(t: Test, clock: Clock, env: Record<string, string> = {}): Promise<Setup> {
  const idp = await startIdp(t, clock)
  const oac = await startOac(t, idp)
  const config = interopConfig(t, idp, oac, 'client_secret_basic', env)
  const store = await browserLogin(config, clock)
  // the proxy starts with a refresh, as after a restart once the login's own access token has run out
  const state = store.load('default') ?? {}
  delete state.accessToken
  delete state.accessTokenObtainedAtMs
  delete state.accessTokenExpiresAtMs
  await store.save('default', state)
  return { idp, oac, config, store, loginRefreshToken: state.refreshToken as string }
}

const refreshCalls = (idp: Idp): Array<{ grantType: string; status: number }> =>
  idp.tokenCalls.filter((c) => c.grantType === 'refresh_token')

for (const delayMs of [20_000, 60_000]) {
  t.test(
    `a refresh rotated and answered after ${delayMs / 1000} s: 503 meanwhile, then the late answer is used`,
    async (t) => {
      const clock = new FakeClock(Date.now())
      const s = await setup(t, clock)
      s.idp.nextFaults.push({ kind: 'delay', ms: delayMs })
      const p = await startInteropProxy(t, s.config, clock, s.store, { waitForToken: false })
      await waitFor(() => refreshCalls(s.idp)[0]?.status === 200, 5000, 'the provider to rotate')
      // a caller waits for the refresh at most token.idpTimeoutSeconds (15 s), then gets 503
      let answered: Awaited<ReturnType<typeof p.get>> | undefined
      const caller = p.get().then((r) => (answered = r))
      await clock.advance(15_000)
      await waitFor(() => answered !== undefined, 5000, 'the caller to be answered at the timeout')
      await caller
      t.equal(answered?.status, 503)
      t.equal(answered?.body.error, 'token_unavailable')
      // more callers meanwhile start no second refresh with the same refresh token
      for (let at = 15_000; at < delayMs; at += 5000) {
        t.equal((await p.get()).status, 503)
        t.equal(refreshCalls(s.idp).length, 1, 'no second refresh while the first is unresolved')
        await clock.advance(5000)
      }
      await waitFor(() => p.proxy.manager.peek() !== undefined, 5000, 'the late answer')
      await p.proxy.manager.settled()
      t.equal((await p.get()).status, 200, 'the late answer is used')
      const saved = s.store.load('default')?.refreshToken
      t.not(saved, s.loginRefreshToken, 'the rotated refresh token of the late answer is saved')
      // the chain goes on: the next refresh uses the late refresh token and the grant is alive
      await clock.advance(50_000)
      await p.proxy.manager.settled()
      const statuses = refreshCalls(s.idp).map((c) => c.status)
      t.ok(statuses.length >= 2, 'refreshed again after the late answer')
      t.same([...new Set(statuses)], [200], 'every refresh succeeded (no reuse, no revoked grant)')
      t.equal(p.proxy.manager.health, 'valid')
      t.equal((await p.get()).status, 200)
      t.equal(s.oac.refused, 0)
    },
  )
}

t.test('in real time: an answer slower than token.idpTimeoutSeconds does not cost the login', async (t) => {
  const s = await setup(t, systemClock, { OAC_PROXY_TOKEN_IDP_TIMEOUT_SECONDS: '0.2' })
  s.idp.nextFaults.push({ kind: 'delay', ms: 700 })
  const p = await startInteropProxy(t, s.config, undefined, s.store, { waitForToken: false })
  const early = await p.get()
  t.equal(early.status, 503, 'callers get 503 after 0.2 s')
  await waitFor(() => p.proxy.manager.peek() !== undefined, 5000, 'the late answer')
  t.equal((await p.get()).status, 200)
  t.same(
    refreshCalls(s.idp).map((c) => c.status),
    [200],
    'no second call with the rotated refresh token',
  )
  t.equal(p.proxy.manager.health, 'valid')
})

t.test(
  'a refresh rotated and then dropped: one retry, and one clear log line when the server refuses it',
  async (t) => {
    const clock = new FakeClock(Date.now())
    const s = await setup(t, clock)
    const p = await startInteropProxy(t, s.config, clock, s.store)
    s.idp.nextFaults.push({ kind: 'drop' })
    await clock.advance(50_000)
    await waitFor(() => refreshCalls(s.idp).length === 2, 5000, 'the dropped call')
    await p.proxy.manager.settled()
    await clock.advance(1000)
    await p.proxy.manager.settled()
    t.equal(refreshCalls(s.idp).length, 3, 'retried once with the held refresh token')
    const lost = p.logs.events('token.refresh_answer_lost')
    t.equal(lost.length, 1, 'one line says the answer was lost')
    t.match(lost[0], { level: 'error', hint: /oac-token-proxy login/ })
    t.equal(p.logs.events('token.login_required').length, 0)
    t.equal(p.proxy.manager.health, 'login_required')
  },
)
