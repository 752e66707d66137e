// 200 concurrent requests around a refresh: one call to the identity provider, no 401 for anyone.
import t from 'tap'
import { request } from 'undici'
import { FakeClock, startStack } from '../helpers.js'

const CONCURRENCY = 200

async function fire(url: string, n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await request(`${url}/api/20210901/snapshots`)
      await res.body.dump()
      return res.statusCode
    }),
  )
}

function count(statuses: number[], status: number): number {
  return statuses.filter((s) => s === status).length
}

t.test('requests arriving while the proactive refresh is in flight are served with the current token', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, random: () => 0 })
  const callsBefore = s.sim.stats().tokenCalls
  // make the identity provider slow so the refresh is still in flight when the burst arrives
  s.sim.faults.idcs.next({ kind: 'latency', ms: 300 })
  await clock.advance(50_000) // the scheduled refresh point of a 100 s token
  const statuses = await fire(s.url, CONCURRENCY)
  await s.proxy.manager.settled()
  t.equal(count(statuses, 200), CONCURRENCY, 'every request succeeded')
  t.equal(s.sim.stats().tokenCalls - callsBefore, 1, 'exactly one token call')
  t.equal(s.sim.stats().oacUnauthorized, 0, 'no 401 anywhere')
  t.equal(s.sim.stats().oacExpiredTokenRequests, 0)
})

t.test('requests arriving when the token is about to expire wait for one shared refresh', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, random: () => 0 })
  const callsBefore = s.sim.stats().tokenCalls
  // 98 s into a 100 s token, without the scheduled refresh having run (a frozen process, say)
  clock.jumpWallClock(98_000)
  s.sim.faults.idcs.next({ kind: 'latency', ms: 100 })
  const statuses = await fire(s.url, CONCURRENCY)
  t.equal(count(statuses, 200), CONCURRENCY, 'every request succeeded')
  t.equal(s.sim.stats().tokenCalls - callsBefore, 1, 'exactly one token call for all of them')
  t.equal(s.sim.stats().oacUnauthorized, 0, 'no 401 anywhere')
  t.equal(s.sim.stats().staleRefreshTokenUses, 0)
  t.equal(s.proxy.manager.status().refreshes, 2)
})
