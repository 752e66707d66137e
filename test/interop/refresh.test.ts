// Against node-oidc-provider: browser login (authorization code + PKCE), then refreshes with rotation, and what reuse costs.
import t, { type Test } from 'tap'
import { FakeClock } from '../../src/shared/clock.js'
import type { ProxyConfig } from '../../src/config/types.js'
import { requestToken } from '../../src/oauth/token-endpoint.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import {
  browserLogin,
  CLIENTS,
  interopConfig,
  startIdp,
  startInteropProxy,
  startOac,
  USER,
  type Idp,
  type Oac,
} from './idp.js'

interface Setup {
  idp: Idp
  oac: Oac
  clock: FakeClock
  config: ProxyConfig
  store: MemoryStore
}

async function setup(t: Test): Promise<Setup> {
  const clock = new FakeClock(Date.now())
  const idp = await startIdp(t, clock)
  const oac = await startOac(t, idp)
  const config = interopConfig(t, idp, oac, 'none')
  const store = await browserLogin(config, clock)
  return { idp, oac, clock, config, store }
}

t.test('login --browser gets a refresh token from a standards-following server (prompt=consent)', async (t) => {
  const { store } = await setup(t)
  const saved = store.load('default')
  t.type(saved?.refreshToken, 'string', 'a refresh token was issued and saved')
  t.equal(saved?.subject, USER)
})

t.test('without prompt=consent the server drops offline_access: the error lists the real causes', async (t) => {
  const clock = new FakeClock(Date.now())
  const idp = await startIdp(t, clock)
  const oac = await startOac(t, idp)
  const config = interopConfig(t, idp, oac, 'none', { OAC_PROXY_LOGIN_PROMPT: 'omit' })
  const err = (await browserLogin(config, clock).catch((e: unknown) => e)) as { code: string; hint: string }
  t.equal(err.code, 'no_refresh_token')
  t.match(err.hint, /Refresh Token grant/)
  t.match(err.hint, /prompt=consent/)
  t.notMatch(err.hint, /scope must end with offline_access/, 'no false claim about the scope')
})

t.test('a server that does not take prompt=consent: login_failed with its words and a hint to omit it', async (t) => {
  const clock = new FakeClock(Date.now())
  const idp = await startIdp(t, clock, { consentRequestable: false })
  const oac = await startOac(t, idp)
  const config = interopConfig(t, idp, oac, 'none')
  const err = (await browserLogin(config, clock).catch((e: unknown) => e)) as {
    code: string
    message: string
    hint: string
  }
  t.equal(err.code, 'login_failed')
  t.match(err.message, /invalid_request \(unsupported prompt value requested\)/)
  t.match(err.hint, /login\.prompt: omit/)
  t.equal(idp.tokenCalls.length, 0, 'no code came back to exchange')
})

t.test('the proxy refreshes with rotation; every token is accepted by the OAC stand-in', async (t) => {
  const { idp, oac: oacHits, clock, config, store } = await setup(t)
  const p = await startInteropProxy(t, config, clock, store)
  const seen = new Set<string>()
  for (let i = 0; i < 4; i++) {
    t.equal((await p.get()).status, 200)
    seen.add(store.load('default')?.refreshToken as string)
    await clock.advance(50_000)
    await p.proxy.manager.settled()
  }
  t.equal(seen.size, 4, 'a new refresh token after every refresh')
  t.equal(oacHits.refused, 0, 'no token was refused upstream')
  t.ok(oacHits.accepted >= 4)
  t.equal(idp.tokenCalls.filter((c) => c.grantType === 'refresh_token' && c.status !== 200).length, 0)
})

t.test('reuse of a rotated refresh token revokes the grant: the proxy reports login_required', async (t) => {
  const { idp, clock, config, store } = await setup(t)
  const first = store.load('default')?.refreshToken as string
  const p = await startInteropProxy(t, config, clock, store)
  t.equal((await p.get()).status, 200)
  // the login's own access token is served first; the first scheduled refresh rotates
  await clock.advance(60_000)
  await p.proxy.manager.settled()
  t.not(store.load('default')?.refreshToken, first, 'rotated at the first refresh')
  // someone presents the rotated token: the server revokes the whole grant
  const reuse = await requestToken(
    { idcsUrl: idp.issuer, clientAuth: { method: 'none', clientId: CLIENTS.none }, timeoutMs: 5000 },
    { grant_type: 'refresh_token', refresh_token: first },
  ).catch((e: unknown) => e)
  t.match(reuse, { oauthError: 'invalid_grant' })
  await clock.advance(50_000)
  await p.proxy.manager.settled()
  t.equal(p.proxy.manager.health, 'login_required')
  await clock.advance(50_000)
  const r = await p.get()
  t.equal(r.status, 503)
  t.equal(r.body.error, 'login_required')
  t.equal(r.retryAfter, '60')
})
