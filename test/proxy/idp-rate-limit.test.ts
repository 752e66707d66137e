// 429s with Retry-After at the refresh of a short token: one retry still lands before its usable end, no caller refused.
import t from 'tap'
import { LAST_CHANCE_LEAD_MS } from '../../src/token/retry.js'
import { FakeClock, startStack } from '../helpers.js'

/** 10 s tokens: with random() = 0 refreshed after 5 s, served until 9 s (a tenth of the lifetime is kept as margin). */
const LIFETIME_S = 10
const REFRESH_AT_MS = 5000
const USABLE_END_MS = 9000
const PROBE_EVERY_MS = 100

// each Retry-After, honoured in full, would push the next attempt to or past the usable end
for (const { retryAfterS, times } of [
  { retryAfterS: 2, times: 2 },
  { retryAfterS: 3, times: 2 },
  { retryAfterS: 4, times: 1 },
  { retryAfterS: 1, times: 3 },
]) {
  t.test(`429 with Retry-After ${retryAfterS} s, ${times} in a row: renewed before the token runs out`, async (t) => {
    const clock = new FakeClock()
    const s = await startStack(t, { clock, random: () => 0, sim: { accessTokenLifetimeS: LIFETIME_S } })
    const t0 = clock.now()
    s.sim.faults.idcs.next({ kind: 'rate_limit', retryAfterS }, times)
    const refused: string[] = []
    for (let at = 0; at < USABLE_END_MS + 3000; at += PROBE_EVERY_MS) {
      await clock.advance(PROBE_EVERY_MS)
      const r = await s.get('/api/20210901/snapshots')
      if (r.status !== 200) refused.push(`${clock.now() - t0} ms: ${r.status}`)
    }
    await s.proxy.manager.settled()
    const tokenCalls = s.sim.calls.filter((c) => c.server === 'idcs' && c.path.startsWith('/oauth2/v1/token'))
    const refreshes = tokenCalls.slice(1).map((c) => ({ atMs: c.atMs - t0, fault: c.fault, status: c.status }))
    t.same(
      refreshes.slice(0, times).map((c) => c.fault),
      Array<string>(times).fill('rate_limit'),
      'the refresh was answered 429 as scripted',
    )
    t.equal(refreshes[0]?.atMs, REFRESH_AT_MS, 'the first attempt came on schedule')
    const renewed = refreshes[times]
    t.equal(renewed?.status, 200, 'the attempt after the 429s got a token')
    t.ok(
      renewed !== undefined && renewed.atMs <= USABLE_END_MS - LAST_CHANCE_LEAD_MS,
      `renewed at ${renewed?.atMs} ms, at least ${LAST_CHANCE_LEAD_MS} ms before the usable end (${USABLE_END_MS} ms)`,
    )
    for (let i = 1; i < times; i++) {
      const gap = (refreshes[i]?.atMs ?? 0) - (refreshes[i - 1]?.atMs ?? 0)
      t.ok(gap >= Math.min(retryAfterS * 1000, USABLE_END_MS - LAST_CHANCE_LEAD_MS - (refreshes[i - 1]?.atMs ?? 0)))
    }
    t.same(refused, [], 'no caller was refused')
    t.equal(s.sim.stats().oacExpiredTokenRequests, 0, 'no expired token was forwarded')
    t.equal(s.sim.stats().staleRefreshTokenUses, 0)
  })
}
