// 60 s of traffic (injected clock) with 2 s tokens: all requests succeed, refreshes follow the schedule.
import t from 'tap'
import { request } from 'undici'
import type { AccessToken } from '../../src/token/manager.js'
import { FakeClock, startStack } from '../helpers.js'

const TOKEN_LIFETIME_S = 2
const DURATION_MS = 60_000
const STEP_MS = 100
const REQUESTS_PER_STEP = 5

t.test('60 s of traffic with 2 s tokens', async (t) => {
  const clock = new FakeClock()
  // random() = 0.5: each refresh comes at 50% of the lifetime minus 5% jitter = after 0.45 x the lifetime
  const s = await startStack(t, { clock, sim: { accessTokenLifetimeS: TOKEN_LIFETIME_S }, random: () => 0.5 })
  const grantsAtStart = s.sim.stats().refreshGrants
  const applied: AccessToken[] = []
  s.proxy.manager.on('refreshed', (e) => {
    if (e.token) applied.push(e.token)
  })
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
  // the simulator, like IDCS, rounds iat down to a whole second: a token's exp claim can end it up to 1 s
  // before expires_in says, and the proxy plans by the earlier of the two; so each token lives 1..2 s and the
  // next refresh starts exactly 0.45 x its lifetime after it was requested (timers fire on time on this clock)
  const early = applied.slice(1).filter((token, i) => {
    const previous = applied[i] as AccessToken
    return Math.abs(token.obtainedAtMono - previous.obtainedAtMono - 0.45 * previous.lifetimeMs) > 1
  })
  t.equal(failed, 0, 'no request failed')
  t.equal(ok, (DURATION_MS / STEP_MS) * REQUESTS_PER_STEP)
  t.equal(refreshes, applied.length, 'every refresh the IdP saw was applied')
  t.ok(refreshes >= DURATION_MS / 900 - 1, `refreshes ${refreshes}: at least one per 0.9 s`)
  t.ok(
    applied.every((token) => token.lifetimeMs >= 1000 && token.lifetimeMs <= 2000),
    'every token lived 1..2 s by expires_in and exp',
  )
  t.same(early, [], 'every refresh came at 0.45 x the previous token lifetime')
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
