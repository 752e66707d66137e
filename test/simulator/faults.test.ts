// Simulator fault injection: every fault kind on IDCS and OAC, queue order, always() and clear().

import t from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../src/simulator/index.js'
import { accessToken, oacCall, refresh } from './fixtures/sim-client.js'

t.test('latency, status, rate_limit and malformed on IDCS', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const rt = sim.issueRefreshToken()

  sim.faults.idcs.next({ kind: 'latency', ms: 150 })
  const started = performance.now()
  const slow = await refresh(sim, rt)
  t.ok(performance.now() - started >= 140, 'delayed')
  t.equal(slow.status, 200, 'then answered normally')
  const rt2 = slow.json().refresh_token as string

  sim.faults.idcs.next({ kind: 'status', status: 503 })
  sim.faults.idcs.next({ kind: 'status', status: 502, body: '<html>Bad Gateway</html>' })
  const s503 = await refresh(sim, rt2)
  t.equal(s503.status, 503)
  t.equal(s503.json().error, 'temporarily_unavailable')
  const s502 = await refresh(sim, rt2)
  t.same([s502.status, s502.text], [502, '<html>Bad Gateway</html>'], 'FIFO order')
  t.match(s502.headers['content-type'], /^text\/plain/)

  sim.faults.idcs.next({ kind: 'rate_limit', retryAfterS: 7 })
  const limited = await refresh(sim, rt2)
  t.equal(limited.status, 429)
  t.equal(limited.headers['retry-after'], '7')
  t.match(limited.json(), { status: '429', error: 'too_many_requests' })

  sim.faults.idcs.next({ kind: 'malformed' })
  const malformed = await refresh(sim, rt2)
  t.equal(malformed.status, 200)
  t.throws(() => malformed.json(), SyntaxError)

  const fine = await refresh(sim, rt2)
  t.equal(fine.status, 200, 'faulted calls did not consume the refresh token')
  t.same(
    sim.calls.map((c) => [c.status, c.fault]),
    [
      [200, 'latency'],
      [503, 'status'],
      [502, 'status'],
      [429, 'rate_limit'],
      [200, 'malformed'],
      [200, undefined],
    ],
  )
  t.equal(sim.stats().tokenCalls, 6)
  t.equal(sim.stats().refreshGrants, 2)
})

t.test('invalid_grant fault: waits for a token call, does not consume the token', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const rt = sim.issueRefreshToken()
  sim.faults.idcs.next({ kind: 'invalid_grant' })

  const jwks = await request(sim.idcsUrl + '/admin/v1/SigningCert/jwk')
  t.equal(jwks.statusCode, 200, 'non-token calls pass the invalid_grant fault by')
  await jwks.body.dump()

  const failed = await refresh(sim, rt)
  t.equal(failed.status, 400)
  t.same(failed.json(), { error: 'invalid_grant', error_description: 'Invalid refresh token.' })
  t.equal(sim.calls.at(-1)?.refreshTokenState, 'current')
  t.equal(sim.calls.at(-1)?.fault, 'invalid_grant')

  const ok = await refresh(sim, rt)
  t.equal(ok.status, 200, 'same token still valid')
  t.equal(sim.stats().staleRefreshTokenUses, 0)

  t.throws(() => sim.faults.oac.next({ kind: 'invalid_grant' }), TypeError)
  t.throws(() => sim.faults.idcs.next({ kind: 'reset' }, 0), RangeError)
})

t.test('reset and hang', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const token = await accessToken(sim)

  sim.faults.oac.next({ kind: 'reset' })
  await t.rejects(oacCall(sim, '/api/20210901/connections', { token }), 'connection reset')

  sim.faults.idcs.next({ kind: 'reset' })
  await t.rejects(refresh(sim, sim.issueRefreshToken()))

  sim.faults.oac.next({ kind: 'hang' })
  const controller = new AbortController()
  const hung = request(sim.oacUrl + '/api/20210901/connections', {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  })
  setTimeout(() => controller.abort(), 200)
  await t.rejects(hung, 'never answered')

  const after = await oacCall(sim, '/api/20210901/connections', { token })
  t.equal(after.status, 200)
  t.same(
    sim.calls.map((c) => [c.server, c.status, c.fault]),
    [
      ['idcs', 200, undefined],
      ['oac', 0, 'reset'],
      ['idcs', 0, 'reset'],
      ['oac', 0, 'hang'],
      ['oac', 200, undefined],
    ],
  )
})

t.test('next(times), always() as an outage, clear()', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const token = await accessToken(sim)
  const get = async () => (await oacCall(sim, '/api/20210901/datasets', { token })).status

  sim.faults.oac.next({ kind: 'status', status: 500 }, 2)
  t.same([await get(), await get(), await get()], [500, 500, 200])

  sim.faults.oac.always({ kind: 'status', status: 503 })
  sim.faults.oac.next({ kind: 'rate_limit', retryAfterS: 1 })
  t.same([await get(), await get(), await get()], [429, 503, 503], 'queued first, then always')
  sim.faults.oac.always(null)
  t.equal(await get(), 200)

  sim.faults.oac.always({ kind: 'malformed' })
  sim.faults.oac.next({ kind: 'status', status: 500 })
  sim.faults.oac.clear()
  t.equal(await get(), 200, 'clear() drops queued and always-on faults')

  sim.faults.oac.next({ kind: 'malformed' })
  const malformed = await oacCall(sim, '/api/20210901/datasets', { token })
  t.equal(malformed.status, 200)
  t.throws(() => malformed.json(), SyntaxError)
  t.equal(sim.stats().oacRequests, 9)
})
