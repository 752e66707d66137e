// Headless first login: serve without a refresh token starts a device login by itself and serves once approved.
import t from 'tap'
import { servingLoginHint } from '../../src/app/managers.js'
import type { ProxyConfig } from '../../src/config/types.js'
import { LOGIN_FLEET_HINT, LOGIN_REQUIRED_HINT, LOGIN_STOP_PROXY_HINT } from '../../src/oauth/rejection.js'
import { FakeClock, startStack, waitFor } from '../helpers.js'

t.test('no refresh token: the code goes to the log and status, readiness waits, approval makes it serve', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, noRefreshToken: true, waitForToken: false })
  await waitFor(() => s.logs.events('login.device_code').length === 1, 5000, 'the device code in the log')
  const logged = s.logs.events('login.device_code')[0] as { userCode: string; verificationUri: string; level: string }
  t.equal(logged.level, 'warn')
  t.match(logged.verificationUri, /\/ui\/v1\/device$/)
  const status = (await s.get('/-/status')).json() as { credentials: Array<{ login?: { userCode: string } }> }
  t.equal(status.credentials[0]?.login?.userCode, logged.userCode, 'status shows the waiting login')
  t.equal((await s.get('/-/readyz')).status, 503)
  t.equal((await s.get('/api/20210901/snapshots')).status, 503)

  s.sim.approveDevice(logged.userCode)
  // the login polls every 5 s of (injected) time; give each poll's real HTTP round trip time to finish
  for (let i = 0; i < 20 && !s.proxy.manager.peek(); i++) {
    await clock.advance(5000)
    await waitFor(() => clock.pendingTimers > 1 || s.proxy.manager.peek() !== undefined, 2000, 'the poll to finish')
    await s.proxy.manager.settled()
  }
  const readyz = await s.get('/-/readyz')
  t.equal(readyz.status, 200, 'ready without a restart: ' + readyz.body)
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  t.type(s.store.load('default')?.refreshToken, 'string', 'the refresh token was saved')
  t.equal(s.logs.events('login.succeeded').length, 1)
  const after = (await s.get('/-/status')).json() as { credentials: Array<{ login?: unknown }> }
  t.equal(after.credentials[0]?.login, undefined, 'the login box is gone')
  t.same(s.leakedSecrets(), [])
})

t.test('after invalid_grant at run time, a new device login starts without a restart', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, random: () => 0 })
  s.sim.faults.idcs.next({ kind: 'invalid_grant' })
  await clock.advance(50_000)
  await s.proxy.manager.settled()
  await waitFor(() => s.logs.events('login.device_code').length === 1, 5000, 'a device code')
  t.equal(s.proxy.manager.health, 'login_required')
  t.equal((await s.get('/api/20210901/snapshots')).status, 200, 'the still-valid token keeps serving meanwhile')
})

t.test('headless login can be turned off', async (t) => {
  const s = await startStack(t, {
    noRefreshToken: true,
    waitForToken: true,
    env: { OAC_PROXY_LOGIN_HEADLESS: 'false' },
  })
  t.equal(s.logs.events('login.device_code').length, 0)
  t.equal(s.proxy.manager.health, 'login_required')
})

t.test('while the device login waits, the 503 and the log say where the code is, not to stop the proxy', async (t) => {
  const s = await startStack(t, { clock: new FakeClock(), noRefreshToken: true, waitForToken: false })
  await waitFor(() => s.logs.events('login.device_code').length === 1, 5000, 'the device code in the log')
  const logged = s.logs.events('login.device_code')[0] as { hint: string }
  t.match(logged.hint, '/-/', 'the log line points at the status page')
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  const body = res.json() as { error: string; hint: string }
  t.equal(body.error, 'login_required')
  t.match(body.hint, 'login.device_code')
  t.match(body.hint, 'status page /-/')
  t.notMatch(body.hint, /stop the proxy|run `oac-token-proxy login`/)
})

for (const env of [{ OAC_PROXY_LOGIN_HEADLESS: 'false' }, { OAC_PROXY_LOGIN_METHOD: 'browser' }] as Record<
  string,
  string
>[]) {
  t.test(
    `with no device login of its own (${JSON.stringify(env)}), the 503 and the log say to stop it and log in`,
    async (t) => {
      const s = await startStack(t, { noRefreshToken: true, waitForToken: true, env })
      t.equal(s.logs.events('login.device_code').length, 0, 'no device login started')
      const body = (await s.get('/api/20210901/snapshots')).json() as { error: string; hint: string }
      t.equal(body.error, 'login_required')
      t.equal(body.hint, LOGIN_STOP_PROXY_HINT)
      t.notMatch(body.hint, /starts a device login by itself/, 'no code to wait for is promised')
      const logged = s.logs.events('token.login_required')[0] as { hint?: string } | undefined
      t.equal(logged?.hint, LOGIN_STOP_PROXY_HINT, 'the log line gives the same hint')
    },
  )
}

t.test('the login hint a serving proxy gives follows its login settings and store', async (t) => {
  const base = { login: { headless: true, method: 'device' } } as unknown as ProxyConfig
  t.equal(servingLoginHint(base), undefined, 'its own device login: the default hint')
  const off = { ...base, login: { headless: false, method: 'device' } } as unknown as ProxyConfig
  t.equal(servingLoginHint(off), LOGIN_STOP_PROXY_HINT)
  t.equal(
    servingLoginHint({ ...off, store: {} } as unknown as ProxyConfig),
    LOGIN_FLEET_HINT,
    'a fleet: login anywhere',
  )
  t.match(LOGIN_REQUIRED_HINT, /starts a device login by itself/)
})
