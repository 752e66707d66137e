// Simulated IDCS refresh_token grant: rotation, stale use, client binding, scope and expiry.

import t from 'tap'
import { FakeClock } from '../../../src/shared/clock.js'
import { SIM_AUDIENCE, startSimulator } from '../../../src/simulator/index.js'
import { basicAuth, refresh, tokenCall } from '../fixtures/sim-client.js'

const INVALID_GRANT = { error: 'invalid_grant', error_description: 'Invalid refresh token.' }

t.test('rotation: each use returns a new refresh token and retires the old one', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const first = sim.issueRefreshToken()
  t.match(first, /^AQAg[A-Za-z0-9_-]{43}$/)

  const a = await refresh(sim, first)
  t.equal(a.status, 200)
  const second = a.json().refresh_token as string
  t.type(second, 'string')
  t.not(second, first)
  t.equal(a.json().expires_in, 100)

  const stale = await refresh(sim, first)
  t.equal(stale.status, 400)
  t.same(stale.json(), INVALID_GRANT)

  const b = await refresh(sim, second)
  t.equal(b.status, 200, 'the newest token still works after a stale use')

  t.same(
    sim.calls.map((c) => c.refreshTokenState),
    ['current', 'used', 'current'],
  )
  t.same(sim.stats(), {
    tokenCalls: 3,
    refreshGrants: 2,
    staleRefreshTokenUses: 1,
    oacRequests: 0,
    oacExpiredTokenRequests: 0,
    oacUnauthorized: 0,
  })
  t.same(sim.issued.refreshTokens, [first, second, b.json().refresh_token])
  t.same(sim.issued.accessTokens, [a.json().access_token, b.json().access_token])
})

t.test('concurrent uses of one refresh token: exactly one wins', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const rt = sim.issueRefreshToken()
  const results = await Promise.all([refresh(sim, rt), refresh(sim, rt), refresh(sim, rt)])
  t.same(results.map((r) => r.status).sort(), [200, 400, 400])
  t.equal(sim.stats().staleRefreshTokenUses, 2)
})

t.test('unknown, expired and other-client refresh tokens', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock, refreshTokenLifetimeS: 3600 })
  t.teardown(() => sim.close())

  const unknown = await refresh(sim, 'AQAgnotissued')
  t.same([unknown.status, unknown.json()], [400, INVALID_GRANT])

  const publicRt = sim.issueRefreshToken({ clientId: sim.publicClientId })
  const otherClient = await refresh(sim, publicRt)
  t.same([otherClient.status, otherClient.json()], [400, INVALID_GRANT], 'bound to its client')

  const rt = sim.issueRefreshToken()
  await clock.advance(3600 * 1000)
  const expired = await refresh(sim, rt)
  t.same([expired.status, expired.json()], [400, INVALID_GRANT])

  t.same(
    sim.calls.map((c) => c.refreshTokenState),
    ['unknown', 'current', 'expired'],
  )
  t.equal(sim.stats().staleRefreshTokenUses, 0)
  t.equal(sim.stats().refreshGrants, 0)

  const fresh = sim.issueRefreshToken()
  await clock.advance(3599 * 1000)
  const rotated = await refresh(sim, fresh)
  t.equal(rotated.status, 200, 'valid just before expiry')
  await clock.advance(3599 * 1000)
  const next = await refresh(sim, rotated.json().refresh_token as string)
  t.equal(next.status, 200, 'the rotated token has a fresh lifetime')
})

t.test('scope: subset allowed, widening rejected, no refresh token without offline_access', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())

  const narrow = await refresh(sim, sim.issueRefreshToken(), {
    scope: SIM_AUDIENCE + 'urn:opc:resource:consumer::all',
  })
  t.equal(narrow.status, 200)
  t.type(narrow.json().refresh_token, 'string', 'original scope had offline_access')

  const wide = await refresh(sim, sim.issueRefreshToken(), { scope: sim.scope + ' extra:scope' })
  t.equal(wide.status, 400)
  t.equal(wide.json().error, 'invalid_scope')

  const onlineRt = sim.issueRefreshToken({
    scope: SIM_AUDIENCE + 'urn:opc:resource:consumer::all',
  })
  const online = await refresh(sim, onlineRt)
  t.equal(online.status, 200)
  t.notOk('refresh_token' in online.json(), 'no refresh token without offline_access')
  t.type(online.json().access_token, 'string')
  const again = await refresh(sim, onlineRt)
  t.equal(again.status, 200, 'not rotated, so the same token keeps working')
})

t.test('post and public clients rotate too', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const rt = sim.issueRefreshToken({ clientId: sim.publicClientId })
  const form = { grant_type: 'refresh_token', client_id: sim.publicClientId }
  const a = await tokenCall(sim, { ...form, refresh_token: rt })
  t.equal(a.status, 200)
  const b = await tokenCall(sim, { ...form, refresh_token: rt })
  t.equal(b.status, 400)
  t.equal(b.json().error, 'invalid_grant')
  const c = await tokenCall(
    sim,
    { ...form, refresh_token: rt },
    {
      authorization: basicAuth(sim.clientId, sim.clientSecret),
    },
  )
  t.equal(c.status, 401, 'mixing Basic and another client_id is invalid_client')
  t.equal(sim.stats().staleRefreshTokenUses, 1)
})
