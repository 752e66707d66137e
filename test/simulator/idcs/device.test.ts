// Simulated IDCS device flow (RFC 8628): device endpoint, polling, slow_down, expiry, denial, verification page.

import t from 'tap'
import { decodeJwt } from 'jose'
import { FakeClock } from '../../../src/shared/clock.js'
import { SIM_AUDIENCE, startSimulator } from '../../../src/simulator/index.js'
import type { Simulator } from '../../../src/simulator/index.js'
import { basicAuth, formCall, idcsCall, tokenCall } from '../fixtures/sim-client.js'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const ONLINE_SCOPE = SIM_AUDIENCE + 'urn:opc:resource:consumer::all'
const PENDING = { error: 'authorization_pending', error_description: 'The user has not yet approved the request.' }

async function startDevice(sim: Simulator, form: Record<string, string> = {}, authorization?: string) {
  const base: Record<string, string> = authorization ? {} : { client_id: sim.publicClientId }
  const res = await formCall(
    sim,
    '/oauth2/v1/device',
    { response_type: 'device_code', scope: sim.scope, ...base, ...form },
    { authorization },
  )
  return { res, body: res.status === 200 ? (res.json() as Record<string, string | number>) : {} }
}

function poll(sim: Simulator, deviceCode: string, authorization?: string) {
  const form = { grant_type: DEVICE_GRANT, device_code: deviceCode }
  return authorization
    ? tokenCall(sim, form, { authorization })
    : tokenCall(sim, { ...form, client_id: sim.publicClientId })
}

t.test('pending, approve, tokens; the device code is then used', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const { res, body } = await startDevice(sim)
  t.equal(res.status, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.same(Object.keys(body).sort(), ['device_code', 'expires_in', 'user_code', 'verification_uri'], 'no interval')
  t.match(body, {
    device_code: /^[A-Za-z0-9_-]{43}$/,
    user_code: /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/,
    verification_uri: sim.idcsUrl + '/ui/v1/device',
    expires_in: 600,
  })
  const deviceCode = String(body.device_code)
  const userCode = String(body.user_code)

  const pending = await poll(sim, deviceCode)
  t.same([pending.status, pending.json()], [400, PENDING])
  t.same(sim.deviceRequests(), [{ userCode, clientId: sim.publicClientId, scope: sim.scope, status: 'pending' }])

  await clock.advance(5000)
  sim.approveDevice(userCode)
  t.equal(sim.deviceRequests()[0]?.status, 'approved')
  const ok = await poll(sim, deviceCode)
  t.equal(ok.status, 200)
  const tokens = ok.json()
  t.same(Object.keys(tokens).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
  t.match(tokens, { token_type: 'Bearer', expires_in: 100, refresh_token: /^AQAg/ })
  t.match(decodeJwt(String(tokens.access_token)), { sub: sim.user, client_id: sim.publicClientId })

  await clock.advance(5000)
  const again = await poll(sim, deviceCode)
  t.same(
    [again.status, again.json()],
    [400, { error: 'invalid_grant', error_description: 'The device code has already been used.' }],
  )
  t.equal(sim.deviceRequests()[0]?.status, 'used')
  t.throws(() => sim.approveDevice(userCode), /device request is used/)
  t.throws(() => sim.approveDevice('BBBB-BBBB'), /unknown user code/)
  const unknown = await poll(sim, 'not-a-device-code')
  t.same([unknown.status, unknown.json()], [400, { error: 'invalid_grant', error_description: 'Invalid device code.' }])

  t.same(
    sim.calls.map((c) => [c.path, c.status, c.grantType, c.clientAuth]),
    [
      ['/oauth2/v1/device', 200, DEVICE_GRANT, 'none'],
      ['/oauth2/v1/token', 400, DEVICE_GRANT, 'none'],
      ['/oauth2/v1/token', 200, DEVICE_GRANT, 'none'],
      ['/oauth2/v1/token', 400, DEVICE_GRANT, 'none'],
      ['/oauth2/v1/token', 400, DEVICE_GRANT, 'none'],
    ],
  )
  t.equal(sim.stats().tokenCalls, 4)
})

t.test('confidential client, no offline_access, interval when configured', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock, deviceIntervalS: 7 })
  t.teardown(() => sim.close())
  const authorization = basicAuth(sim.clientId, sim.clientSecret)
  const { res, body } = await startDevice(sim, { scope: ONLINE_SCOPE }, authorization)
  t.equal(res.status, 200)
  t.equal(body.interval, 7)
  const deviceCode = String(body.device_code)
  t.equal((await poll(sim, deviceCode, authorization)).status, 400)
  await clock.advance(6999)
  const fast = await poll(sim, deviceCode, authorization)
  t.same(fast.json(), {
    error: 'slow_down',
    error_description: 'Polling too fast: wait at least 12 seconds between polls.',
  })
  sim.approveDevice(String(body.user_code), 'federated@example.com')
  await clock.advance(12_000)
  const other = await poll(sim, deviceCode)
  t.same([other.status, other.json().error], [400, 'invalid_grant'], 'bound to the client that asked')
  await clock.advance(12_000)
  const ok = await poll(sim, deviceCode, authorization)
  t.equal(ok.status, 200)
  t.same(Object.keys(ok.json()).sort(), ['access_token', 'expires_in', 'token_type'], 'no refresh token')
  t.equal(decodeJwt(String(ok.json().access_token)).sub, 'federated@example.com')
  t.same(
    sim.calls.map((c) => c.clientAuth),
    ['basic', 'basic', 'basic', 'none', 'basic'],
  )
})

t.test('slow_down: polling sooner than the interval adds 5 s', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const deviceCode = String((await startDevice(sim)).body.device_code)
  const errors: unknown[] = []
  const step = async (ms: number) => {
    await clock.advance(ms)
    errors.push((await poll(sim, deviceCode)).json().error)
  }
  await step(0)
  await step(4999)
  await step(10_000)
  await step(9999)
  await step(15_000)
  await step(15_000)
  t.same(errors, [
    'authorization_pending',
    'slow_down',
    'authorization_pending',
    'slow_down',
    'authorization_pending',
    'authorization_pending',
  ])
})

t.test('expired_token after the lifetime; access_denied after deny', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock, deviceCodeLifetimeS: 60 })
  t.teardown(() => sim.close())
  const first = (await startDevice(sim)).body
  t.equal(first.expires_in, 60)
  const second = (await startDevice(sim)).body
  sim.denyDevice(String(second.user_code))
  const denied = await poll(sim, String(second.device_code))
  t.same(
    [denied.status, denied.json()],
    [400, { error: 'access_denied', error_description: 'The user denied the request.' }],
  )

  await clock.advance(59_999)
  t.equal((await poll(sim, String(first.device_code))).json().error, 'authorization_pending')
  await clock.advance(1)
  const expired = await poll(sim, String(first.device_code))
  t.same(
    [expired.status, expired.json()],
    [400, { error: 'expired_token', error_description: 'The device code has expired.' }],
  )
  t.same(
    sim.deviceRequests().map((r) => r.status),
    ['expired', 'expired'],
  )
  t.throws(() => sim.approveDevice(String(first.user_code)), /device request is expired/)
})

t.test('the verification page signs the user in and approves or denies', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const { body } = await startDevice(sim)
  const userCode = String(body.user_code)

  const page = await idcsCall(sim, '/ui/v1/device?user_code=' + userCode)
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.text, `<input name="user_code" value="${userCode}"`)
  t.match(page.text, '<form method="post" action="/ui/v1/device">')

  const submit = (form: Record<string, string>) => formCall(sim, '/ui/v1/device', form)
  const typed = userCode.toLowerCase().replace('-', ' ')
  const wrong = await submit({ user_code: typed, username: sim.user, password: 'nope', action: 'approve' })
  t.equal(wrong.status, 401)
  t.match(wrong.text, 'Invalid user name or password.')
  const federated = await submit({
    user_code: typed,
    username: 'federated@example.com',
    password: '',
    action: 'approve',
  })
  t.equal(federated.status, 401)
  const badCode = await submit({
    user_code: 'ZZZZ-ZZZZ',
    username: sim.user,
    password: 'Welcome-1234!',
    action: 'approve',
  })
  t.equal(badCode.status, 400)
  t.equal(sim.deviceRequests()[0]?.status, 'pending', 'failed sign-ins decide nothing')

  const ok = await submit({ user_code: typed, username: sim.user, password: 'Welcome-1234!', action: 'approve' })
  t.equal(ok.status, 200)
  t.match(ok.text, '<h1>Device approved</h1>')
  t.notOk(ok.text.includes('Welcome-1234!'), 'password not echoed')
  const tokens = await poll(sim, String(body.device_code))
  t.equal(tokens.status, 200)
  const twice = await submit({ user_code: userCode, username: sim.user, password: 'Welcome-1234!', action: 'deny' })
  t.equal(twice.status, 400, 'a used code cannot be decided again')

  const next = (await startDevice(sim)).body
  const deny = await submit({
    user_code: String(next.user_code),
    username: sim.user,
    password: 'Welcome-1234!',
    action: 'deny',
  })
  t.match([deny.status, deny.text], [200, '<h1>Device denied</h1>'])
  await clock.advance(5000)
  t.equal((await poll(sim, String(next.device_code))).json().error, 'access_denied')
})

t.test('device endpoint errors', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const badType = await startDevice(sim, { response_type: 'code' })
  t.same(
    [badType.res.status, badType.res.json()],
    [400, { error: 'invalid_request', error_description: 'response_type must be device_code.' }],
  )
  const unknown = await startDevice(sim, { client_id: 'nobody' })
  t.same(
    [unknown.res.status, unknown.res.json()],
    [401, { error: 'invalid_client', error_description: 'Client authentication failed.' }],
  )
  const scope = await startDevice(sim, { scope: 'urn:opc:resource:other' })
  t.same(
    [scope.res.status, scope.res.json()],
    [400, { error: 'invalid_scope', error_description: 'Invalid scope: urn:opc:resource:other.' }],
  )
  sim.setClientGrants(sim.publicClientId, ['refresh_token'])
  const notAllowed = await startDevice(sim)
  t.same(
    [notAllowed.res.status, notAllowed.res.json()],
    [400, { error: 'unauthorized_client', error_description: 'Client is not authorized for this grant type.' }],
  )
  t.same(sim.deviceRequests(), [])
})

t.test('the verification page names the demo user and password', async (t) => {
  const sim = await startSimulator({ clock: new FakeClock() })
  t.teardown(() => sim.close())
  const page = await idcsCall(sim, '/ui/v1/device')
  t.equal(page.status, 200)
  t.match(page.text, `<code>${sim.user}</code>`)
  t.match(page.text, '<code>Welcome-1234!</code>')
  t.match(page.text, `<input name="username" value="${sim.user}"`, 'the user name is filled in')
})

t.test('a simulator without the demo password shows no demo note', async (t) => {
  const sim = await startSimulator({ clock: new FakeClock(), users: { 'someone@example.com': { password: 'other' } } })
  t.teardown(() => sim.close())
  const page = await idcsCall(sim, '/ui/v1/device')
  t.equal(page.status, 200)
  t.notMatch(page.text, 'Welcome-1234!')
  t.notMatch(page.text, 'class="demo"')
})
