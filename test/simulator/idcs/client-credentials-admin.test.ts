// Simulated client_credentials tokens: refused by OAC, accepted by the IDCS admin API (SCIM Apps).

import t from 'tap'
import { decodeJwt } from 'jose'
import { FakeClock } from '../../../src/shared/clock.js'
import { SIM_AUDIENCE, startSimulator } from '../../../src/simulator/index.js'
import type { Simulator } from '../../../src/simulator/index.js'
import { basicAuth, idcsCall, oacCall, tokenCall } from '../fixtures/sim-client.js'

const ONLINE_SCOPE = SIM_AUDIENCE + 'urn:opc:resource:consumer::all'
const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error'
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp'

function clientCredentials(sim: Simulator, scope: string) {
  return tokenCall(
    sim,
    { grant_type: 'client_credentials', scope },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
}

function appView(sim: Simulator, allowOffline: boolean, lastModified: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:oracle:idcs:App'],
    id: 'oac-sim-app',
    displayName: 'OAC Simulator',
    active: true,
    allowOffline,
    meta: { resourceType: 'App', lastModified, location: sim.idcsUrl + '/admin/v1/Apps/oac-sim-app' },
  }
}

t.test('client_credentials: client token, no refresh token, refused by OAC', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const res = await clientCredentials(sim, `${ONLINE_SCOPE} offline_access ${sim.idcsAdminScope}`)
  t.equal(res.status, 200)
  t.same(Object.keys(res.json()).sort(), ['access_token', 'expires_in', 'token_type'], 'never a refresh token')
  const token = String(res.json().access_token)
  const claims = decodeJwt(token)
  t.match(claims, { sub: sim.clientId, sub_type: 'client', client_id: sim.clientId, aud: [SIM_AUDIENCE, sim.idcsUrl] })
  t.notOk('user_displayname' in claims || 'user_id' in claims, 'no user')

  const oac = await oacCall(sim, '/api/20210901/snapshots', { token })
  t.same(
    [oac.status, oac.headers['www-authenticate'], oac.json()],
    [
      401,
      'Bearer error="invalid_token"',
      {
        code: 'NotAuthenticated',
        message: 'The access token has no user: OAC does not accept client credentials tokens.',
      },
    ],
  )
  t.equal(sim.calls.at(-1)?.tokenState, 'invalid')

  const apps = await idcsCall(sim, '/admin/v1/Apps', { token })
  t.equal(apps.status, 200)
  const publicClient = await tokenCall(sim, {
    grant_type: 'client_credentials',
    scope: sim.idcsAdminScope,
    client_id: sim.publicClientId,
  })
  t.same(
    [publicClient.status, publicClient.json()],
    [401, { error: 'invalid_client', error_description: 'Public clients cannot use the client_credentials grant.' }],
  )
  t.same(
    sim.calls.filter((c) => c.path === '/oauth2/v1/token').map((c) => [c.grantType, c.clientAuth]),
    [
      ['client_credentials', 'basic'],
      ['client_credentials', 'none'],
    ],
  )
})

t.test('admin API: list, get and PATCH Apps with an admin-scoped token', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1))
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const created = new Date(clock.now()).toISOString()
  const token = String((await clientCredentials(sim, sim.idcsAdminScope)).json().access_token)

  const list = await idcsCall(sim, '/admin/v1/Apps', { token })
  t.same(
    [list.status, list.json()],
    [
      200,
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: 1,
        Resources: [appView(sim, false, created)],
        startIndex: 1,
        itemsPerPage: 1,
      },
    ],
  )
  const one = await idcsCall(sim, '/admin/v1/Apps/oac-sim-app', { token })
  t.same([one.status, one.json()], [200, appView(sim, false, created)])

  await clock.advance(1000)
  const patch = (body: unknown, contentType = 'application/scim+json') =>
    idcsCall(sim, '/admin/v1/Apps/oac-sim-app', { token, method: 'PATCH', contentType, body: JSON.stringify(body) })
  const changed = await patch({
    schemas: [PATCH_OP],
    Operations: [{ op: 'replace', path: 'allowOffline', value: true }],
  })
  const modified = new Date(clock.now()).toISOString()
  t.same([changed.status, changed.json()], [200, appView(sim, true, modified)])
  t.same((await idcsCall(sim, '/admin/v1/Apps/oac-sim-app', { token })).json(), appView(sim, true, modified))
  const plainJson = await patch(
    { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { allowOffline: false } }] },
    'application/json',
  )
  t.equal(plainJson.json().allowOffline, false, 'path-less replace with application/json')

  const scimError = (status: number, detail: string, scimType?: string) => ({
    schemas: [SCIM_ERROR],
    detail,
    status: String(status),
    ...(scimType ? { scimType } : {}),
  })
  const badSchema = await patch({ Operations: [{ op: 'replace', path: 'allowOffline', value: true }] })
  t.same(
    [badSchema.status, badSchema.json()],
    [400, scimError(400, `schemas must contain ${PATCH_OP}.`, 'invalidValue')],
  )
  const badPath = await patch({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'id', value: 'x' }] })
  t.same(badPath.json(), scimError(400, 'Attribute id cannot be modified.', 'invalidValue'))
  const badType = await patch({
    schemas: [PATCH_OP],
    Operations: [{ op: 'replace', path: 'allowOffline', value: 'yes' }],
  })
  t.same(badType.json(), scimError(400, 'Attribute allowOffline must be a boolean.', 'invalidValue'))
  const form = await patch({}, 'application/x-www-form-urlencoded')
  t.same(
    [form.status, form.json()],
    [415, scimError(415, 'Content-Type must be application/scim+json or application/json.')],
  )
  const missing = await idcsCall(sim, '/admin/v1/Apps/nope', { token })
  t.same([missing.status, missing.json()], [404, scimError(404, 'Resource nope not found.')])
  t.equal((await idcsCall(sim, '/admin/v1/Apps/oac-sim-app', { token })).json().allowOffline, false)
})

t.test('admin API refuses tokens without the admin scope', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const unauthorized = (detail: string) => ({ schemas: [SCIM_ERROR], detail, status: '401' })
  const none = await idcsCall(sim, '/admin/v1/Apps')
  t.same([none.status, none.json()], [401, unauthorized('Authorization is required: send a bearer token.')])

  const userToken = await sim.issueAccessToken()
  const oacOnly = await idcsCall(sim, '/admin/v1/Apps', { token: userToken })
  t.same(
    [oacOnly.status, oacOnly.json()],
    [401, unauthorized('The access token does not carry the urn:opc:idm:__myscopes__ scope.')],
  )
  const userAdmin = await sim.issueAccessToken({ scope: sim.idcsAdminScope })
  t.equal((await idcsCall(sim, '/admin/v1/Apps', { token: userAdmin })).status, 200, 'any grant with the scope')
  await clock.advance(100_000)
  const expired = await idcsCall(sim, '/admin/v1/Apps', { token: userAdmin })
  t.same([expired.status, expired.json()], [401, unauthorized('The access token is not valid.')])
  const foreign = await idcsCall(sim, '/admin/v1/Apps', { token: 'not-a-jwt' })
  t.equal(foreign.status, 401)
  t.same(
    sim.calls.map((c) => [c.path, c.status]),
    [
      ['/admin/v1/Apps', 401],
      ['/admin/v1/Apps', 401],
      ['/admin/v1/Apps', 200],
      ['/admin/v1/Apps', 401],
      ['/admin/v1/Apps', 401],
    ],
  )
})
