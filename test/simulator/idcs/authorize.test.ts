// Simulated IDCS authorization code flow with PKCE: scripted consent, redirect URI rules, code exchange.

import t from 'tap'
import { decodeJwt } from 'jose'
import { request } from 'undici'
import { FakeClock } from '../../../src/shared/clock.js'
import { startSimulator } from '../../../src/simulator/index.js'
import type { Simulator } from '../../../src/simulator/index.js'
import { pkce } from '../fixtures/assertions.js'
import { basicAuth, tokenCall } from '../fixtures/sim-client.js'

const REDIRECT = 'http://127.0.0.1/callback'

async function authorize(sim: Simulator, params: Record<string, string>) {
  const res = await request(sim.idcsUrl + '/oauth2/v1/authorize?' + new URLSearchParams(params).toString())
  const text = await res.body.text()
  const location = typeof res.headers.location === 'string' ? new URL(res.headers.location) : undefined
  const query = location ? Object.fromEntries(location.searchParams) : undefined
  return { status: res.statusCode, headers: res.headers, text, location, query }
}

function codeRequest(sim: Simulator, challenge: string, extra: Record<string, string> = {}) {
  return {
    client_id: sim.publicClientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: sim.scope,
    state: 'st-123',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  }
}

function exchange(sim: Simulator, code: string, verifier: string, extra: Record<string, string> = {}) {
  return tokenCall(sim, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
    client_id: sim.publicClientId,
    ...extra,
  })
}

const invalidGrant = (description: string) => ({ error: 'invalid_grant', error_description: description })

t.test('approve: code redirect, exchange with the verifier, single use', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const { verifier, challenge } = pkce()
  const a = await authorize(sim, codeRequest(sim, challenge))
  t.equal(a.status, 302)
  t.equal(a.location?.origin + (a.location?.pathname ?? ''), REDIRECT)
  t.same(Object.keys(a.query ?? {}).sort(), ['code', 'state'])
  t.equal(a.query?.state, 'st-123')
  const code = a.query?.code ?? ''

  const ok = await exchange(sim, code, verifier)
  t.equal(ok.status, 200)
  t.same(Object.keys(ok.json()).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
  t.match(decodeJwt(String(ok.json().access_token)), { sub: sim.user, client_id: sim.publicClientId })
  const reuse = await exchange(sim, code, verifier)
  t.same([reuse.status, reuse.json()], [400, invalidGrant('Invalid authorization code.')])
  t.same(
    sim.calls.map((c) => [c.path, c.status, c.grantType, c.clientAuth]),
    [
      ['/oauth2/v1/authorize', 302, 'authorization_code', 'none'],
      ['/oauth2/v1/token', 200, 'authorization_code', 'none'],
      ['/oauth2/v1/token', 400, 'authorization_code', 'none'],
    ],
  )
})

t.test('deny, tamper_state, approve as another user, confidential client', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const { verifier, challenge } = pkce()
  sim.setAuthorizeBehaviour({ action: 'deny' })
  const denied = await authorize(sim, codeRequest(sim, challenge))
  t.equal(denied.status, 302)
  t.same(denied.query, { error: 'access_denied', error_description: 'The user denied the request.', state: 'st-123' })

  sim.setAuthorizeBehaviour({ action: 'tamper_state' })
  const tampered = await authorize(sim, codeRequest(sim, challenge))
  t.equal(tampered.status, 302)
  t.match(tampered.query, { code: String, state: /^tampered-[0-9a-f]+$/ })

  sim.setAuthorizeBehaviour({ action: 'approve', user: 'federated@example.com' })
  t.throws(() => sim.setAuthorizeBehaviour({ action: 'approve', user: 'ghost@example.com' }), /unknown user/)
  const other = await authorize(sim, codeRequest(sim, challenge, { client_id: sim.clientId }))
  const ok = await tokenCall(
    sim,
    {
      grant_type: 'authorization_code',
      code: other.query?.code ?? '',
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
  t.equal(ok.status, 200)
  t.match(decodeJwt(String(ok.json().access_token)), { sub: 'federated@example.com', client_id: sim.clientId })
  t.equal(sim.calls.at(-1)?.clientAuth, 'basic')
})

t.test('unknown client and unregistered redirect: 400 page, no redirect', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const { challenge } = pkce()
  const cases: Array<Record<string, string>> = [
    { client_id: 'nobody' },
    { redirect_uri: 'https://evil.example/callback' },
    { redirect_uri: 'http://127.0.0.1/other' },
    { redirect_uri: '' },
  ]
  for (const extra of cases) {
    const res = await authorize(sim, codeRequest(sim, challenge, extra))
    t.equal(res.status, 400, JSON.stringify(extra))
    t.equal(res.headers.location, undefined)
    t.match(res.headers['content-type'], /^text\/html/)
    t.match(res.text, '<h1>Error</h1>')
  }
  t.same(
    sim.calls.map((c) => c.clientAuth),
    ['invalid', 'none', 'none', 'none'],
  )
})

t.test('loopbackAnyPort: true matches any port, false needs the exact URI', async (t) => {
  const { challenge } = pkce()
  const anyPort = await startSimulator()
  t.teardown(() => anyPort.close())
  const withPort = 'http://127.0.0.1:53124/callback'
  const a = await authorize(anyPort, codeRequest(anyPort, challenge, { redirect_uri: withPort }))
  t.equal(a.status, 302)
  t.equal(a.location?.origin, 'http://127.0.0.1:53124')
  const https = await authorize(
    anyPort,
    codeRequest(anyPort, challenge, { redirect_uri: 'https://127.0.0.1:53124/callback' }),
  )
  t.equal(https.status, 400, 'only http loopback URIs get the port exemption')

  const exact = await startSimulator({ loopbackAnyPort: false, redirectUris: [REDIRECT, 'http://localhost:8080/cb'] })
  t.teardown(() => exact.close())
  const b = await authorize(exact, codeRequest(exact, challenge, { redirect_uri: withPort }))
  t.same([b.status, b.headers.location], [400, undefined])
  const c = await authorize(exact, codeRequest(exact, challenge, { redirect_uri: 'http://localhost:8080/cb' }))
  t.equal(c.status, 302)
})

t.test('PKCE required; mismatch, wrong redirect_uri and expiry are invalid_grant', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const { verifier, challenge } = pkce()
  const pkceError = {
    error: 'invalid_request',
    error_description: 'PKCE is required: code_challenge with code_challenge_method=S256.',
    state: 'st-123',
  }
  const missing = await authorize(sim, codeRequest(sim, challenge, { code_challenge: '' }))
  t.same([missing.status, missing.query], [302, pkceError])
  const plain = await authorize(sim, codeRequest(sim, challenge, { code_challenge_method: 'plain' }))
  t.same([plain.status, plain.query], [302, pkceError])
  const scope = await authorize(sim, codeRequest(sim, challenge, { scope: 'openid' }))
  t.same(scope.query, { error: 'invalid_scope', error_description: 'Invalid scope: openid.', state: 'st-123' })
  const type = await authorize(sim, codeRequest(sim, challenge, { response_type: 'token' }))
  t.equal(type.query?.error, 'unsupported_response_type')

  const code = async () => (await authorize(sim, codeRequest(sim, challenge))).query?.code ?? ''
  const c1 = await code()
  const mismatch = await exchange(sim, c1, verifier + 'x')
  t.same([mismatch.status, mismatch.json()], [400, invalidGrant('PKCE verification failed.')])
  const consumed = await exchange(sim, c1, verifier)
  t.same(
    [consumed.status, consumed.json()],
    [400, invalidGrant('Invalid authorization code.')],
    'a failed try uses the code',
  )

  const noVerifier = await tokenCall(sim, {
    grant_type: 'authorization_code',
    code: await code(),
    redirect_uri: REDIRECT,
    client_id: sim.publicClientId,
  })
  t.same(noVerifier.json(), invalidGrant('PKCE verification failed.'))
  const wrongRedirect = await exchange(sim, await code(), verifier, { redirect_uri: 'http://127.0.0.1:9/callback' })
  t.same(wrongRedirect.json(), invalidGrant('The redirect_uri does not match.'))
  const otherClient = await tokenCall(
    sim,
    { grant_type: 'authorization_code', code: await code(), redirect_uri: REDIRECT, code_verifier: verifier },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
  t.same(otherClient.json(), invalidGrant('The authorization code belongs to another client.'))

  const late = await code()
  await clock.advance(60_000)
  const expired = await exchange(sim, late, verifier)
  t.same([expired.status, expired.json()], [400, invalidGrant('The authorization code has expired.')])
  const fresh = await code()
  await clock.advance(59_999)
  t.equal((await exchange(sim, fresh, verifier)).status, 200, 'valid just under 60 s')
})
