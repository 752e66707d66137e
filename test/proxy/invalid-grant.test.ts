// A rejected refresh token (invalid_grant) is terminal: 503 login_required once the token runs out, and the log says how to recover.
import t from 'tap'
import { request } from 'undici'
import { FakeClock, startStack } from '../helpers.js'

t.test('invalid_grant: served until expiry, then 503 login_required; the log says to log in again', async (t) => {
  const clock = new FakeClock()
  // headless login off: this test is about the terminal state itself
  const s = await startStack(t, { clock, random: () => 0, env: { OAC_PROXY_LOGIN_HEADLESS: 'false' } })
  s.sim.faults.idcs.next({ kind: 'invalid_grant' })
  await clock.advance(50_000) // scheduled refresh fails with invalid_grant
  await s.proxy.manager.settled()
  t.equal(s.proxy.manager.health, 'login_required')

  const during = await request(`${s.url}/api/20210901/snapshots`)
  t.equal(during.statusCode, 200, 'the still-valid token keeps serving')
  await during.body.dump()

  const callsBefore = s.sim.stats().tokenCalls
  await clock.advance(60_000) // past expiry
  const after = await request(`${s.url}/api/20210901/snapshots`)
  t.equal(after.statusCode, 503)
  const body = (await after.body.json()) as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['error', 'hint', 'message'])
  t.equal(body.error, 'login_required')
  t.match(body.hint, /log in again/i)
  t.equal(s.sim.stats().tokenCalls, callsBefore, 'no further calls to the identity provider')
  t.equal(s.sim.stats().oacRequests, 1, 'nothing forwarded without a token')

  const ready = await request(`${s.url}/-/readyz`)
  t.equal(ready.statusCode, 503)
  t.same(await ready.body.json(), { status: 'not_ready', credentials: { default: 'login_required' } })

  const logged = s.logs.events('token.login_required')
  t.equal(logged.length, 1)
  t.equal(logged[0]?.level, 'error')
  t.match(logged[0]?.hint, /log in again/i)
  t.same(s.leakedSecrets(), [])
})
