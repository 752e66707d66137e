// Against node-oidc-provider: device login, client credentials, and each client authentication method through the proxy.
import t from 'tap'
import { FakeClock } from '../../src/shared/clock.js'
import { login } from '../../src/cli/login.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import { LogCapture, waitFor } from '../helpers.js'
import {
  Browser,
  browserLogin,
  interopConfig,
  OAC_SCOPE,
  startIdp,
  startInteropProxy,
  startOac,
  USER,
  type AuthMethod,
} from './idp.js'

t.test('device login (RFC 8628): approved in a browser, the refresh token is saved and serves', async (t) => {
  const clock = new FakeClock(Date.now())
  const idp = await startIdp(t, clock)
  const oac = await startOac(t, idp)
  const config = interopConfig(t, idp, oac, 'none')
  const store = new MemoryStore()
  const logs = new LogCapture()
  const done = login(config, {
    credential: 'default',
    method: 'device',
    store,
    logger: logs.logger(),
    out: () => {},
    interactive: false,
    clock,
  })
  done.catch(() => {})
  await waitFor(() => logs.events('login.device_code').length === 1, 5000, 'the device code')
  const shown = logs.events('login.device_code')[0] as { userCode: string; verificationUri: string }
  await new Browser().approveDevice(shown.verificationUri, shown.userCode)
  let result: Awaited<typeof done> | undefined
  void done.then((r) => (result = r))
  for (let i = 0; i < 10 && !result; i++) {
    await clock.advance(5000)
    await waitFor(() => result !== undefined || clock.pendingTimers > 0, 2000, 'the next poll')
  }
  t.equal((await done).subject, USER)
  t.type(store.load('default')?.refreshToken, 'string')
  const p = await startInteropProxy(t, config, clock, store)
  t.equal((await p.get()).status, 200)
  t.equal(p.logs.events('token.saved_used').length, 1, 'serve starts on the access token the login returned')
  t.same(
    [...new Set(idp.tokenCalls.map((c) => c.grantType))],
    ['urn:ietf:params:oauth:grant-type:device_code'],
    'only the polls of the login: no refresh (and no rotation) right after it',
  )
  t.equal(oac.refused, 0)
})

t.test('headless device login inside serve: the login token is served, no extra refresh', async (t) => {
  const clock = new FakeClock(Date.now())
  const idp = await startIdp(t, clock)
  const oac = await startOac(t, idp)
  const config = interopConfig(t, idp, oac, 'none', { OAC_PROXY_LOGIN_HEADLESS: 'true' })
  const p = await startInteropProxy(t, config, clock, new MemoryStore(), { waitForToken: false })
  await waitFor(() => p.logs.events('login.device_code').length === 1, 5000, 'the device code in the log')
  const shown = p.logs.events('login.device_code')[0] as { userCode: string; verificationUri: string }
  await new Browser().approveDevice(shown.verificationUri, shown.userCode)
  for (let i = 0; i < 10 && !p.proxy.manager.peek(); i++) {
    await clock.advance(5000)
    await waitFor(() => clock.pendingTimers > 1 || p.proxy.manager.peek() !== undefined, 2000, 'the poll to finish')
    await p.proxy.manager.settled()
  }
  t.equal((await p.get()).status, 200)
  t.equal(idp.tokenCalls.filter((c) => c.grantType === 'refresh_token').length, 0, 'no refresh right after it')
  t.equal(oac.refused, 0)
})

for (const method of ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const) {
  t.test(`client_credentials with ${method}`, async (t) => {
    const clock = new FakeClock(Date.now())
    const idp = await startIdp(t, clock)
    const oac = await startOac(t, idp)
    const config = interopConfig(t, idp, oac, method, {
      OAC_PROXY_GRANT: 'client_credentials',
      OAC_PROXY_SCOPE: OAC_SCOPE,
      ...(method === 'private_key_jwt' ? { OAC_PROXY_ASSERTION_AUDIENCE: idp.tokenEndpoint } : {}),
    })
    const p = await startInteropProxy(t, config, clock)
    t.equal((await p.get()).status, 200)
    await clock.advance(50_000)
    await p.proxy.manager.settled()
    t.equal((await p.get()).status, 200)
    t.same(
      idp.tokenCalls.map((c) => [c.grantType, c.status]),
      [
        ['client_credentials', 200],
        ['client_credentials', 200],
      ],
    )
    t.equal(oac.refused, 0)
  })
}

for (const method of ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as AuthMethod[]) {
  t.test(`browser login and refresh with ${method}`, async (t) => {
    const clock = new FakeClock(Date.now())
    const idp = await startIdp(t, clock)
    const oac = await startOac(t, idp)
    const config = interopConfig(
      t,
      idp,
      oac,
      method,
      method === 'private_key_jwt' ? { OAC_PROXY_ASSERTION_AUDIENCE: idp.tokenEndpoint } : {},
    )
    const store = await browserLogin(config, clock)
    const p = await startInteropProxy(t, config, clock, store)
    await clock.advance(50_000)
    await p.proxy.manager.settled()
    t.equal((await p.get()).status, 200)
    t.same(
      idp.tokenCalls.map((c) => [c.grantType, c.status]),
      // the login's own access token is served at start-up; the scheduled refresh rotates once
      [
        ['authorization_code', 200],
        ['refresh_token', 200],
      ],
    )
  })
}

t.test(
  'private_key_jwt with the IDCS audience at a server that wants its own: the hint names assertionAudience',
  async (t) => {
    const clock = new FakeClock(Date.now())
    const idp = await startIdp(t, clock)
    const oac = await startOac(t, idp)
    const config = interopConfig(t, idp, oac, 'private_key_jwt', {
      OAC_PROXY_GRANT: 'client_credentials',
      OAC_PROXY_SCOPE: OAC_SCOPE,
    })
    const p = await startInteropProxy(t, config, clock)
    const r = await p.get()
    t.equal(r.status, 503)
    t.equal(r.body.error, 'credential_rejected')
    t.match(r.body.hint, /assertionAudience/)
    t.match(r.body.hint, idp.tokenEndpoint)
    t.equal(r.retryAfter, '60')
    t.equal(idp.tokenCalls.length, 1, 'no blind retry: the server did not name the audience')
  },
)
