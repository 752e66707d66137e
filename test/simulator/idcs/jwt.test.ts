// Simulated IDCS access tokens: RS256 JWT header and claims, verifiable against the JWKS.

import t from 'tap'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { FakeClock } from '../../../src/shared/clock.js'
import { SIM_AUDIENCE, startSimulator } from '../../../src/simulator/index.js'
import { refresh } from '../fixtures/sim-client.js'

t.test('access token is a JWT verifiable with the published JWKS', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 2, 1, 12))
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const res = await refresh(sim, sim.issueRefreshToken())
  const token = res.json().access_token as string

  const header = decodeProtectedHeader(token)
  t.match(header, { alg: 'RS256', typ: 'JWT', kid: 'SIGNING_KEY', x5t: /^[A-Za-z0-9_-]{27}$/ })

  const jwks = createRemoteJWKSet(new URL(sim.idcsUrl + '/admin/v1/SigningCert/jwk'))
  const { payload } = await jwtVerify(token, jwks, {
    audience: SIM_AUDIENCE,
    issuer: 'https://identity.oraclecloud.com/',
    currentDate: new Date(clock.now()),
  })
  const iat = Math.floor(clock.now() / 1000)
  t.match(payload, {
    sub: sim.user,
    user_displayname: 'Analyst',
    client_id: sim.clientId,
    scope: 'urn:opc:resource:consumer::all',
    aud: [SIM_AUDIENCE],
    iss: 'https://identity.oraclecloud.com/',
    iat,
    exp: iat + 100,
    jti: String,
    tok_type: 'AT',
  })

  const again = await refresh(sim, res.json().refresh_token as string)
  const other = again.json().access_token as string
  const { payload: p2 } = await jwtVerify(other, jwks, { currentDate: new Date(clock.now()) })
  t.not(p2.jti, payload.jti, 'jti is unique')
})

t.test('setAccessTokenLifetime applies to later tokens', async (t) => {
  const sim = await startSimulator({ accessTokenLifetimeS: 60 })
  t.teardown(() => sim.close())
  const a = await refresh(sim, sim.issueRefreshToken())
  t.equal(a.json().expires_in, 60)
  sim.setAccessTokenLifetime(5)
  const b = await refresh(sim, a.json().refresh_token as string)
  t.equal(b.json().expires_in, 5)
  const jwks = createRemoteJWKSet(new URL(sim.idcsUrl + '/admin/v1/SigningCert/jwk'))
  const { payload } = await jwtVerify(b.json().access_token as string, jwks)
  t.equal((payload.exp ?? 0) - (payload.iat ?? 0), 5)
  t.throws(() => sim.setAccessTokenLifetime(0), RangeError)
})
