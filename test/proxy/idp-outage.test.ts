// Identity-provider outages: served from the still-valid token while it lasts, then 503 + Retry-After, then recovery.
import t from 'tap'
import { request } from 'undici'
import { FakeClock, startStack } from '../helpers.js'

async function statusOf(
  url: string,
): Promise<{ status: number; retryAfter: string | undefined; body: Record<string, unknown> }> {
  const res = await request(`${url}/api/20210901/snapshots`)
  const text = await res.body.text()
  const retryAfter = res.headers['retry-after'] as string | undefined
  return { status: res.statusCode, retryAfter, body: JSON.parse(text) as Record<string, unknown> }
}

t.test('an outage shorter than the token life fails no request', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, random: () => 0 })
  await clock.advance(45_000)
  s.sim.faults.idcs.always({ kind: 'reset' })
  const statuses: number[] = []
  for (let i = 0; i < 40; i++) {
    await clock.advance(1000) // 46 s .. 85 s: refresh due at 50 s fails, retries back off
    statuses.push((await statusOf(s.url)).status)
  }
  t.ok(s.logs.events('token.refresh_failed').length >= 2, 'refreshes failed during the outage')
  s.sim.faults.idcs.always(null)
  for (let i = 0; i < 10; i++) {
    await clock.advance(1000)
    statuses.push((await statusOf(s.url)).status)
  }
  await s.proxy.manager.settled()
  t.same([...new Set(statuses)], [200], 'every request succeeded: ' + statuses.join(','))
  t.equal(s.proxy.manager.status().health, 'valid')
  t.ok(s.proxy.manager.status().refreshes >= 2, 'recovered with a new token')
  t.equal(s.sim.stats().oacUnauthorized, 0)
})

t.test('an outage longer than the token life: 503 with Retry-After, then recovery without restart', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, random: () => 0 })
  s.sim.faults.idcs.always({ kind: 'reset' })
  const seen = new Map<number, number>()
  let unavailable: Awaited<ReturnType<typeof statusOf>> | undefined
  for (let i = 0; i < 150; i++) {
    await clock.advance(1000) // 1 s .. 150 s; the token expires at 100 s
    const r = await statusOf(s.url)
    seen.set(r.status, (seen.get(r.status) ?? 0) + 1)
    if (r.status === 503) unavailable ??= r
  }
  t.ok((seen.get(200) ?? 0) >= 90, 'served while the token was valid')
  t.ok((seen.get(503) ?? 0) >= 45, 'refused once it ran out')
  t.same([...seen.keys()].sort(), [200, 503], 'nothing else')
  t.ok(unavailable, 'a 503 was seen')
  t.equal(unavailable?.body.error, 'token_unavailable')
  t.type(unavailable?.body.message, 'string')
  t.match(unavailable?.retryAfter, /^[1-9][0-9]*$/, 'Retry-After in whole seconds')
  // a request each second may start one attempt a second once no token is held (token.demandRetrySeconds)
  const idpCalls = s.sim.stats().tokenCalls
  t.ok(idpCalls <= 75, `the calls to the identity provider are bounded (${idpCalls} in 150 s)`)
  const ready = await request(`${s.url}/-/readyz`)
  t.equal(ready.statusCode, 503)
  await ready.body.dump()

  s.sim.faults.idcs.always(null)
  let recoveredAfterS = -1
  for (let i = 1; i <= 120; i++) {
    await clock.advance(1000)
    await s.proxy.manager.settled()
    if ((await statusOf(s.url)).status === 200) {
      recoveredAfterS = i
      break
    }
  }
  t.ok(recoveredAfterS > 0 && recoveredAfterS <= 1, `recovered ${recoveredAfterS} s after the IdP came back`)
  t.equal(s.proxy.manager.status().health, 'valid')
  t.equal(s.sim.stats().oacExpiredTokenRequests, 0, 'no expired token was ever forwarded')
  t.same(s.leakedSecrets(), [])
})

t.test('no token at start-up: 503 token_unavailable, readiness false, no crash', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, {
    clock,
    beforeProxy: (sim) => sim.faults.idcs.always({ kind: 'status', status: 503 }),
  })
  const r = await statusOf(s.url)
  t.equal(r.status, 503)
  t.equal(r.body.error, 'token_unavailable')
  t.match(r.retryAfter, /^[1-9][0-9]*$/)
  t.equal(s.proxy.manager.health, 'failing')
  const ready = await request(`${s.url}/-/readyz`)
  t.equal(ready.statusCode, 503)
  t.same(await ready.body.json(), { status: 'not_ready', credentials: { default: 'failing' } })
  t.equal(s.sim.stats().oacRequests, 0, 'nothing forwarded')
  s.sim.faults.idcs.always(null)
  await clock.advance(5000)
  await s.proxy.manager.settled()
  t.equal((await statusOf(s.url)).status, 200, 'serves once the identity provider answers')
})
