// A device login inside serve: the access token it returns is served as is, with no refresh right after it.
import t from 'tap'
import { FakeClock, startStack, waitFor } from '../helpers.js'

t.test('after a headless device login the proxy serves the login token without another token call', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, noRefreshToken: true, waitForToken: false, random: () => 0 })
  await waitFor(() => s.logs.events('login.device_code').length === 1, 5000, 'the device code in the log')
  const { userCode } = s.logs.events('login.device_code')[0] as { userCode: string }
  s.sim.approveDevice(userCode)
  for (let i = 0; i < 20 && !s.proxy.manager.peek(); i++) {
    await clock.advance(5000)
    await waitFor(() => clock.pendingTimers > 1 || s.proxy.manager.peek() !== undefined, 2000, 'the poll to finish')
    await s.proxy.manager.settled()
  }
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  const grants = s.sim.calls.filter((c) => c.server === 'idcs' && c.grantType !== undefined).map((c) => c.grantType)
  t.equal(grants.filter((g) => g === 'refresh_token').length, 0, 'no refresh right after the login: ' + grants.join())
  t.equal(s.sim.stats().refreshGrants, 0)
  const saved = s.store.load('default')?.refreshToken
  t.type(saved, 'string', 'the login refresh token is saved')
  // the next refresh comes on schedule and uses the login's refresh token
  await clock.advance(50_000)
  await s.proxy.manager.settled()
  t.equal(s.sim.stats().refreshGrants, 1, 'one refresh on schedule')
  t.equal(s.sim.stats().staleRefreshTokenUses, 0)
  t.same(s.leakedSecrets(), [])
})
