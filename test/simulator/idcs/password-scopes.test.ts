// Simulated IDCS password grant, scope validation and per-client allowed grants (unauthorized_client).

import t from 'tap'
import { decodeJwt } from 'jose'
import { SIM_AUDIENCE, startSimulator } from '../../../src/simulator/index.js'
import type { Simulator } from '../../../src/simulator/index.js'
import { basicAuth, refresh, tokenCall } from '../fixtures/sim-client.js'

const ONLINE_SCOPE = SIM_AUDIENCE + 'urn:opc:resource:consumer::all'
const PASSWORD = 'Welcome-1234!'

function password(sim: Simulator, username: string, pw: string, scope: string = sim.scope) {
  return tokenCall(
    sim,
    { grant_type: 'password', username, password: pw, scope },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
}

t.test('password grant: ok, wrong password, unknown and federated users', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const ok = await password(sim, sim.user, PASSWORD)
  t.equal(ok.status, 200)
  t.same(Object.keys(ok.json()).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
  t.match(decodeJwt(String(ok.json().access_token)), { sub: sim.user, sub_type: 'user' })
  const rotated = await refresh(sim, String(ok.json().refresh_token))
  t.equal(rotated.status, 200, 'its refresh token works')

  const online = await tokenCall(sim, {
    grant_type: 'password',
    username: sim.user,
    password: PASSWORD,
    scope: ONLINE_SCOPE,
    client_id: sim.publicClientId,
  })
  t.equal(online.status, 200, 'public client too')
  t.same(Object.keys(online.json()).sort(), ['access_token', 'expires_in', 'token_type'], 'no offline_access')

  const invalid = { error: 'invalid_grant', error_description: 'Invalid user credentials.' }
  const wrong = await password(sim, sim.user, 'welcome-1234!')
  t.same([wrong.status, wrong.json()], [400, invalid])
  const unknown = await password(sim, 'ghost@example.com', PASSWORD)
  t.same([unknown.status, unknown.json()], [400, invalid])
  const federated = await password(sim, 'federated@example.com', PASSWORD)
  t.same(
    [federated.status, federated.json()],
    [400, { error: 'invalid_grant', error_description: 'Federated users cannot use the password grant.' }],
  )
  const missing = await tokenCall(
    sim,
    { grant_type: 'password', username: sim.user, scope: sim.scope },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
  t.same(missing.json(), {
    error: 'invalid_request',
    error_description: 'The username and password parameters are required.',
  })
  t.same(
    sim.calls.map((c) => [c.status, c.grantType, c.clientAuth]),
    [
      [200, 'password', 'basic'],
      [200, 'refresh_token', 'basic'],
      [200, 'password', 'none'],
      [400, 'password', 'basic'],
      [400, 'password', 'basic'],
      [400, 'password', 'basic'],
      [400, 'password', 'basic'],
    ],
  )
})

t.test('custom users option', async (t) => {
  const sim = await startSimulator({ users: { 'ops@example.com': { password: 's3cret' } } })
  t.teardown(() => sim.close())
  t.equal((await password(sim, 'ops@example.com', 's3cret')).status, 200)
  t.equal((await password(sim, sim.user, PASSWORD)).status, 400, 'defaults replaced')
})

t.test('scopes: only the OAC scope parts and the IDCS admin scope', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const cases: Array<[string, string]> = [
    [sim.scope + ' openid', 'Invalid scope: openid.'],
    [
      'https://other.analytics.ocp.oraclecloud.comurn:opc:resource:consumer::all',
      'Invalid scope: ' + 'https://other.analytics.ocp.oraclecloud.comurn:opc:resource:consumer::all.',
    ],
    ['urn:opc:resource:consumer::all', 'Invalid scope: urn:opc:resource:consumer::all.'],
    ['', 'The scope parameter is required.'],
  ]
  for (const [scope, description] of cases) {
    const res = await password(sim, sim.user, PASSWORD, scope)
    t.same([res.status, res.json()], [400, { error: 'invalid_scope', error_description: description }], scope)
  }
  const admin = await password(sim, sim.user, PASSWORD, `${sim.scope} ${sim.idcsAdminScope}`)
  t.equal(admin.status, 200)
  t.match(decodeJwt(String(admin.json().access_token)), {
    aud: [SIM_AUDIENCE, sim.idcsUrl],
    scope: `urn:opc:resource:consumer::all ${sim.idcsAdminScope}`,
  })
  t.equal(sim.idcsAdminScope, 'urn:opc:idm:__myscopes__')
})

t.test('unauthorized_client: grants outside the client allow-list', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  sim.setClientGrants(sim.clientId, ['refresh_token'])
  const refused = await password(sim, sim.user, PASSWORD)
  t.same(
    [refused.status, refused.json()],
    [400, { error: 'unauthorized_client', error_description: 'Client is not authorized for this grant type.' }],
  )
  t.equal((await refresh(sim, sim.issueRefreshToken())).status, 200, 'allowed grant still works')
  const unsupported = await tokenCall(
    sim,
    { grant_type: 'urn:example:magic' },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
  t.same(
    [unsupported.status, unsupported.json()],
    [400, { error: 'unsupported_grant_type', error_description: 'Invalid grant type.' }],
  )
  sim.setClientGrants(sim.clientId, [])
  t.equal((await refresh(sim, sim.issueRefreshToken())).json().error, 'unauthorized_client')
  sim.setClientGrants(sim.clientId, null)
  t.equal((await password(sim, sim.user, PASSWORD)).status, 200, 'null allows every grant again')
  t.throws(() => sim.setClientGrants('nobody', null), /unknown client/)
})
