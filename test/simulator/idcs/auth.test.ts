// Simulated IDCS token endpoint: client authentication, request validation, JWKS and 404s.

import t from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../../src/simulator/index.js'
import { basicAuth, tokenCall } from '../fixtures/sim-client.js'

t.test('client authentication', async (t) => {
  // A secret with characters that RFC 6749 form-encoding changes before base64.
  const sim = await startSimulator({ clientSecret: 'p@ss:w+rd/ü %' })
  t.teardown(() => sim.close())
  const rt = () => sim.issueRefreshToken()

  const basic = await tokenCall(
    sim,
    { grant_type: 'refresh_token', refresh_token: rt() },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
  t.equal(basic.status, 200, 'basic auth accepted')
  t.equal(basic.json().token_type, 'Bearer')
  t.equal(basic.headers['cache-control'], 'no-store')

  const post = await tokenCall(sim, {
    grant_type: 'refresh_token',
    refresh_token: rt(),
    client_id: sim.clientId,
    client_secret: sim.clientSecret,
  })
  t.equal(post.status, 200, 'client_secret_post accepted')

  const publicRt = sim.issueRefreshToken({ clientId: sim.publicClientId })
  const pub = await tokenCall(sim, {
    grant_type: 'refresh_token',
    refresh_token: publicRt,
    client_id: sim.publicClientId,
  })
  t.equal(pub.status, 200, 'public client with client_id only accepted')

  const invalid: Array<{ authorization?: string; form?: Record<string, string> }> = [
    { authorization: basicAuth(sim.clientId, 'wrong') },
    { authorization: basicAuth('nobody', sim.clientSecret) },
    { authorization: 'Basic !!!' },
    { form: { client_id: sim.clientId } },
    { form: { client_id: sim.clientId, client_secret: 'wrong' } },
    { form: { client_id: sim.publicClientId, client_secret: 'x' } },
    { form: {} },
  ]
  for (const c of invalid) {
    const res = await tokenCall(
      sim,
      { grant_type: 'refresh_token', refresh_token: rt(), ...(c.form ?? {}) },
      c.authorization ? { authorization: c.authorization } : {},
    )
    t.equal(res.status, 401)
    t.same(res.json(), {
      error: 'invalid_client',
      error_description: 'Client authentication failed.',
    })
  }

  const auths = sim.calls.map((c) => c.clientAuth)
  t.same(auths.slice(0, 3), ['basic', 'post', 'none'])
  t.ok(auths.slice(3).every((a) => a === 'invalid'))
  t.equal(sim.calls[0]?.headers?.authorization, '[present]', 'authorization header masked')
  t.equal(sim.stats().tokenCalls, 3 + invalid.length)
  t.equal(sim.stats().refreshGrants, 3)
})

t.test('request validation', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const authorization = basicAuth(sim.clientId, sim.clientSecret)

  const json = await tokenCall(
    sim,
    { grant_type: 'refresh_token', refresh_token: sim.issueRefreshToken() },
    { authorization, contentType: 'application/json' },
  )
  t.equal(json.status, 400)
  t.equal(json.json().error, 'invalid_request', 'wrong content type')

  const unknown = await tokenCall(sim, { grant_type: 'magic' }, { authorization })
  t.equal(unknown.status, 400)
  t.same(unknown.json(), {
    error: 'unsupported_grant_type',
    error_description: 'Invalid grant type.',
  })
  t.equal(sim.calls.at(-1)?.grantType, 'magic')

  const noGrant = await tokenCall(sim, {}, { authorization })
  t.equal(noGrant.status, 400)
  t.equal(noGrant.json().error, 'invalid_request')

  const noToken = await tokenCall(sim, { grant_type: 'refresh_token' }, { authorization })
  t.equal(noToken.status, 400)
  t.equal(noToken.json().error, 'invalid_request')

  const withCharset = await tokenCall(
    sim,
    { grant_type: 'refresh_token', refresh_token: sim.issueRefreshToken() },
    { authorization, contentType: 'application/x-www-form-urlencoded; charset=UTF-8' },
  )
  t.equal(withCharset.status, 200, 'charset parameter allowed')
  t.equal(sim.stats().tokenCalls, 5)
})

t.test('JWKS and unknown paths', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())

  const jwks = await request(sim.idcsUrl + '/admin/v1/SigningCert/jwk')
  t.equal(jwks.statusCode, 200)
  const body = (await jwks.body.json()) as { keys: Array<Record<string, unknown>> }
  t.equal(body.keys.length, 1)
  t.match(body.keys[0], { kty: 'RSA', kid: 'SIGNING_KEY', alg: 'RS256', use: 'sig', x5t: String })
  t.notOk('d' in (body.keys[0] ?? {}), 'no private part')

  const missing = await request(sim.idcsUrl + '/oauth2/v1/nothing')
  t.equal(missing.statusCode, 404)
  t.match(await missing.body.json(), { status: '404' })

  const getToken = await request(sim.idcsUrl + '/oauth2/v1/token')
  t.equal(getToken.statusCode, 404, 'GET on the token endpoint')
  await getToken.body.dump()
  t.equal(sim.stats().tokenCalls, 0)
  t.same(
    sim.calls.map((c) => [c.server, c.method, c.path, c.status]),
    [
      ['idcs', 'GET', '/admin/v1/SigningCert/jwk', 200],
      ['idcs', 'GET', '/oauth2/v1/nothing', 404],
      ['idcs', 'GET', '/oauth2/v1/token', 404],
    ],
  )
})
