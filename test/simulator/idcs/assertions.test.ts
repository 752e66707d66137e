// Simulated IDCS JWT assertions: the jwt-bearer user assertion grant and private_key_jwt client authentication.

import tap from 'tap'
import { SignJWT, decodeJwt } from 'jose'
import { FakeClock } from '../../../src/shared/clock.js'
import { SIM_AUDIENCE, startSimulator } from '../../../src/simulator/index.js'
import type { Simulator } from '../../../src/simulator/index.js'
import {
  CLIENT_ASSERTION_TYPE,
  JWT_BEARER,
  rsaKey,
  selfSignedCertificate,
  signAssertion,
} from '../fixtures/assertions.js'
import type { AssertionOptions, TestKey } from '../fixtures/assertions.js'
import { basicAuth, tokenCall } from '../fixtures/sim-client.js'

const ONLINE_SCOPE = SIM_AUDIENCE + 'urn:opc:resource:consumer::all'

async function setup(t: { teardown(fn: () => unknown): void }) {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const key = await rsaKey()
  sim.registerClientKey({ kid: 'app-cert', publicKeyPem: key.publicKeyPem })
  return { clock, sim, key }
}

type Overrides = Partial<AssertionOptions>

function userAssertion(sim: Simulator, clock: FakeClock, key: TestKey, o: Overrides = {}) {
  return signAssertion({
    key: key.privateKey,
    header: { kid: 'app-cert' },
    iss: sim.clientId,
    sub: sim.user,
    nowMs: clock.now(),
    ...o,
  })
}

function assertionGrant(sim: Simulator, assertion: string, scope = sim.scope) {
  return tokenCall(
    sim,
    { grant_type: JWT_BEARER, assertion, scope },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
}

const invalidGrant = (description: string) => ({ error: 'invalid_grant', error_description: description })

tap.test('user assertion by kid: token for the user, no refresh token', async (t) => {
  const { clock, sim, key } = await setup(t)
  const res = await assertionGrant(sim, await userAssertion(sim, clock, key))
  t.equal(res.status, 200)
  t.same(Object.keys(res.json()).sort(), ['access_token', 'expires_in', 'token_type'], 'no refresh token')
  t.match(decodeJwt(String(res.json().access_token)), { sub: sim.user, sub_type: 'user', client_id: sim.clientId })
  for (const aud of [sim.idcsUrl, sim.idcsUrl + '/', ['https://other.example/', sim.idcsUrl]]) {
    const ok = await assertionGrant(sim, await userAssertion(sim, clock, key, { aud }), ONLINE_SCOPE)
    t.equal(ok.status, 200, `aud ${JSON.stringify(aud)}`)
  }
  const federated = await assertionGrant(sim, await userAssertion(sim, clock, key, { sub: 'federated@example.com' }))
  t.equal(federated.status, 200, 'federated users can use assertions')
  t.same(
    sim.calls.map((c) => [c.status, c.grantType, c.clientAuth]),
    Array(5).fill([200, JWT_BEARER, 'basic']),
  )
})

const cert = await selfSignedCertificate()

tap.test('user assertion by x5t of a registered certificate', { skip: cert ? false : 'no openssl' }, async (t) => {
  if (!cert) return
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  sim.registerClientKey({ certificatePem: cert.certificatePem })
  const assertion = await signAssertion({
    key: cert.privateKey,
    header: { x5t: cert.x5t },
    iss: sim.clientId,
    sub: sim.user,
    nowMs: clock.now(),
  })
  const res = await assertionGrant(sim, assertion)
  t.equal(res.status, 200)
  t.equal(decodeJwt(String(res.json().access_token)).sub, sim.user)
  t.throws(() => sim.registerClientKey({ certificatePem: 'not a certificate' }))
  const bare = (await rsaKey()).publicKeyPem
  t.throws(() => sim.registerClientKey({ publicKeyPem: bare }), /needs a kid/)
  t.throws(() => sim.registerClientKey({ clientId: 'nobody', certificatePem: cert.certificatePem }), /unknown client/)
})

tap.test('user assertion failures are invalid_grant naming the check', async (t) => {
  const { clock, sim, key } = await setup(t)
  const otherKey = await rsaKey()
  const now = Math.floor(clock.now() / 1000)
  const hs256 = await new SignJWT({ iss: sim.clientId, sub: sim.user })
    .setProtectedHeader({ alg: 'HS256', kid: 'app-cert' })
    .sign(new Uint8Array(32))
  const cases: Array<[string, Promise<string> | string]> = [
    ['assertion is not a well-formed JWT', 'not.a.jwt'],
    ['assertion algorithm must be RS256', hs256],
    ['assertion signature is invalid', userAssertion(sim, clock, otherKey)],
    [
      'assertion signing key is not registered for the client',
      userAssertion(sim, clock, key, { header: { kid: 'nope' } }),
    ],
    ['assertion issuer is not the client', userAssertion(sim, clock, key, { iss: sim.publicClientId })],
    ['assertion subject is not a known user', userAssertion(sim, clock, key, { sub: 'ghost@example.com' })],
    ['assertion audience is not accepted', userAssertion(sim, clock, key, { aud: 'https://elsewhere.example/' })],
    ['assertion has expired', userAssertion(sim, clock, key, { exp: now })],
    ['assertion is issued in the future', userAssertion(sim, clock, key, { iat: now + 61 })],
    ['assertion jti is missing', userAssertion(sim, clock, key, { jti: null })],
  ]
  for (const [description, assertion] of cases) {
    const res = await assertionGrant(sim, await assertion)
    t.same([res.status, res.json()], [400, invalidGrant(description)], description)
  }
  const skewed = await assertionGrant(sim, await userAssertion(sim, clock, key, { iat: now + 60 }))
  t.equal(skewed.status, 200, 'iat up to 60 s ahead is tolerated')

  const once = await userAssertion(sim, clock, key, { jti: 'jti-1' })
  t.equal((await assertionGrant(sim, once)).status, 200)
  const replay = await assertionGrant(sim, once)
  t.same([replay.status, replay.json()], [400, invalidGrant('assertion jti has already been used')])
  const unknownScope = await assertionGrant(sim, await userAssertion(sim, clock, key), 'urn:opc:resource:other')
  t.same(unknownScope.json(), { error: 'invalid_scope', error_description: 'Invalid scope: urn:opc:resource:other.' })

  const live = await userAssertion(sim, clock, key)
  await clock.advance(300_000)
  t.same(
    (await assertionGrant(sim, live)).json(),
    invalidGrant('assertion has expired'),
    'exp checked against the clock',
  )
})

tap.test('private_key_jwt client authentication', async (t) => {
  const { clock, sim, key } = await setup(t)
  const clientAssertion = (o: Overrides = {}) =>
    userAssertion(sim, clock, key, { sub: sim.clientId, aud: sim.idcsUrl, ...o })
  const withAssertion = async (form: Record<string, string>, o: Overrides = {}) =>
    tokenCall(sim, {
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await clientAssertion(o),
      ...form,
    })
  const cc = { grant_type: 'client_credentials', scope: sim.idcsAdminScope }

  const ok = await withAssertion(cc)
  t.equal(ok.status, 200)
  t.match(decodeJwt(String(ok.json().access_token)), { sub: sim.clientId, sub_type: 'client' })
  const withId = await withAssertion({ ...cc, client_id: sim.clientId })
  t.equal(withId.status, 200, 'client_id may accompany the assertion')
  const refreshed = await withAssertion({ grant_type: 'refresh_token', refresh_token: sim.issueRefreshToken() })
  t.equal(refreshed.status, 200, 'works with the refresh_token grant')
  const user = await withAssertion({
    grant_type: JWT_BEARER,
    assertion: await userAssertion(sim, clock, key),
    scope: sim.scope,
  })
  t.equal(user.status, 200, 'and with a user assertion')

  const failed = (reason?: string) => ({
    error: 'invalid_client',
    error_description: reason ? `Client authentication failed: ${reason}.` : 'Client authentication failed.',
  })
  const bad: Array<[() => ReturnType<typeof tokenCall>, unknown]> = [
    [() => withAssertion(cc, { aud: 'https://elsewhere.example/' }), failed('assertion audience is not accepted')],
    [() => withAssertion(cc, { sub: sim.user }), failed('assertion subject is not the client')],
    [
      () => withAssertion(cc, { header: { kid: 'unknown' } }),
      failed('assertion signing key is not registered for the client'),
    ],
    [() => withAssertion({ ...cc, client_id: sim.publicClientId }), failed('assertion issuer is not the client')],
    [() => withAssertion(cc, { exp: Math.floor(clock.now() / 1000) - 1 }), failed('assertion has expired')],
    [() => withAssertion({ ...cc, client_assertion_type: 'urn:other' }), failed('unsupported client_assertion_type')],
    [() => withAssertion({ ...cc, client_secret: sim.clientSecret }), failed()],
  ]
  for (const [call, body] of bad) {
    const res = await call()
    t.same([res.status, res.json()], [401, body])
  }
  const replayed = await clientAssertion({ jti: 'client-jti' })
  const form = { ...cc, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: replayed }
  t.equal((await tokenCall(sim, form)).status, 200)
  const again = await tokenCall(sim, form)
  t.same([again.status, again.json()], [401, failed('assertion jti has already been used')])
  const basicToo = await tokenCall(sim, form, { authorization: basicAuth(sim.clientId, sim.clientSecret) })
  t.equal(basicToo.status, 401, 'an assertion and Basic together are refused')

  const auths = sim.calls.map((c) => c.clientAuth)
  t.same(auths.slice(0, 4), Array(4).fill('private_key_jwt'))
  t.same(auths.slice(4, 11), Array(7).fill('invalid'))
  t.same(auths.slice(11), ['private_key_jwt', 'invalid', 'invalid'])
})
