// 60 s of traffic (injected clock) with 2 s tokens: all requests succeed, refreshes follow the schedule.
import t from 'tap'
import { request } from 'undici'
import { FakeClock, startStack } from '../helpers.js'

const TOKEN_LIFETIME_S = 2
const DURATION_MS = 60_000
const STEP_MS = 100
const REQUESTS_PER_STEP = 5

t.test('60 s of traffic with 2 s tokens', async (t) => {
  const clock = new FakeClock()
  // random() = 0.5: each refresh comes at 50% of the lifetime minus 5% jitter = every 0.9 s
  const s = await startStack(t, { clock, sim: { accessTokenLifetimeS: TOKEN_LIFETIME_S }, random: () => 0.5 })
  const grantsAtStart = s.sim.stats().refreshGrants
  let ok = 0
  let failed = 0
  for (let elapsed = 0; elapsed < DURATION_MS; elapsed += STEP_MS) {
    const statuses = await Promise.all(
      Array.from({ length: REQUESTS_PER_STEP }, async () => {
        const res = await request(`${s.url}/api/20210901/catalog?type=workbooks`)
        await res.body.dump()
        return res.statusCode
      }),
    )
    for (const st of statuses) {
      if (st === 200) ok++
      else failed++
    }
    await clock.advance(STEP_MS)
  }
  await s.proxy.manager.settled()
  const stats = s.sim.stats()
  const refreshes = stats.refreshGrants - grantsAtStart
  const expected = Math.floor(DURATION_MS / (TOKEN_LIFETIME_S * 1000 * 0.45))
  t.equal(failed, 0, 'no request failed')
  t.equal(ok, (DURATION_MS / STEP_MS) * REQUESTS_PER_STEP)
  t.ok(Math.abs(refreshes - expected) <= 1, `refreshes ${refreshes} match the schedule (${expected})`)
  t.equal(stats.oacExpiredTokenRequests, 0, 'no request carried an expired token')
  t.equal(stats.oacUnauthorized, 0)
  t.equal(stats.staleRefreshTokenUses, 0)
  t.same(
    [...new Set(s.sim.calls.filter((c) => c.server === 'oac').map((c) => c.tokenState))],
    ['valid'],
    'every forwarded token was valid when OAC checked it',
  )
  t.equal(s.logs.events('token.refresh_failed').length, 0)
  t.same(s.leakedSecrets(), [])
})
