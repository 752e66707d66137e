// Simulated OAC: bearer-token checks (missing, expired, wrong audience/scope/signature) and /ui/.

import t from 'tap'
import { decodeJwt } from 'jose'
import { request } from 'undici'
import { FakeClock } from '../../../src/shared/clock.js'
import { startSimulator } from '../../../src/simulator/index.js'
import { accessToken, oacCall } from '../fixtures/sim-client.js'

const CHALLENGE = 'Bearer error="invalid_token"'

t.test('valid, missing and expired tokens', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const token = await accessToken(sim)
  const jti = decodeJwt(token).jti

  const ok = await oacCall(sim, '/api/20210901/sim/echo?a=1&a=2&b=x', { token })
  t.equal(ok.status, 200)
  t.match(ok.json(), {
    method: 'GET',
    path: '/api/20210901/sim/echo',
    query: { a: ['1', '2'], b: 'x' },
    headers: { authorization: '[present]' },
    bodyBytes: 0,
    tokenSub: sim.user,
    tokenJti: jti,
  })

  const missing = await oacCall(sim, '/api/20210901/snapshots')
  t.equal(missing.status, 401)
  t.equal(missing.headers['www-authenticate'], CHALLENGE)
  t.equal(missing.json().code, 'NotAuthenticated')

  await clock.advance(99_999)
  const lastMoment = await oacCall(sim, '/api/20210901/snapshots', { token })
  t.equal(lastMoment.status, 200, 'valid until exp')
  await clock.advance(1)
  const expired = await oacCall(sim, '/api/20210901/snapshots', { token })
  t.equal(expired.status, 401)
  t.equal(expired.headers['www-authenticate'], CHALLENGE)
  t.match(expired.headers['content-type'], /^text\/html/)
  t.match(expired.text, /expired/)

  t.same(
    sim.calls.filter((c) => c.server === 'oac').map((c) => [c.tokenState, c.tokenJti, c.status]),
    [
      ['valid', jti, 200],
      ['missing', undefined, 401],
      ['valid', jti, 200],
      ['expired', jti, 401],
    ],
  )
  t.match(sim.stats(), { oacRequests: 4, oacExpiredTokenRequests: 1, oacUnauthorized: 2 })
})

t.test('wrong audience, wrong scope, bad signature, wrong scheme', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const other = await startSimulator()
  t.teardown(() => other.close())

  const wrongAudience = await sim.issueAccessToken({
    scope: 'https://other.analytics.ocp.oraclecloud.comurn:opc:resource:consumer::all',
  })
  const wrongScope = await sim.issueAccessToken({ scope: sim.audience + 'urn:opc:resource:other' })
  const foreign = await other.issueAccessToken()
  const good = await sim.issueAccessToken()
  const tampered = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA')

  for (const token of [wrongAudience, wrongScope, foreign, tampered, 'not-a-jwt']) {
    const res = await oacCall(sim, '/api/20210901/catalog?type=workbooks', { token })
    t.equal(res.status, 401)
    t.equal(res.headers['www-authenticate'], CHALLENGE)
    t.equal(res.json().code, 'NotAuthenticated')
  }
  const basic = await request(sim.oacUrl + '/api/20210901/catalog', {
    headers: { authorization: 'Basic dXNlcjpwYXNz' },
  })
  t.equal(basic.statusCode, 401)
  await basic.body.dump()

  t.same(
    sim.calls.map((c) => c.tokenState),
    ['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'missing'],
  )
  t.equal(sim.calls[0]?.tokenJti, decodeJwt(wrongAudience).jti)
  t.match(sim.stats(), { oacUnauthorized: 6, oacExpiredTokenRequests: 0 })
})

t.test('/ui/ redirects to IDCS with the app name; unknown paths 404', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const ui = await request(sim.oacUrl + '/ui/')
  t.equal(ui.statusCode, 302)
  await ui.body.dump()
  const location = new URL(String(ui.headers.location))
  t.equal(location.origin + location.pathname, sim.idcsUrl + '/oauth2/v1/authorize')
  t.equal(location.searchParams.get('idcs_app_name'), 'ANALYTICSINST_simhash0001')
  t.equal(location.searchParams.get('redirect_uri'), sim.oacUrl + '/ui/')
  t.ok(location.searchParams.get('client_id'))

  const outside = await oacCall(sim, '/nothing/here')
  t.equal(outside.status, 404)
  t.equal(outside.json().code, 'NotFound')

  const token = await accessToken(sim)
  const inside = await oacCall(sim, '/api/20210901/nothing', { token })
  t.equal(inside.status, 404)
  t.equal(inside.json().code, 'NotFound')
  const unauthenticated = await oacCall(sim, '/api/20210901/nothing')
  t.equal(unauthenticated.status, 401, 'auth is checked before routing')
  const wrongMethod = await oacCall(sim, '/api/20210901/connections', { token, method: 'PATCH' })
  t.equal(wrongMethod.status, 405)
})
