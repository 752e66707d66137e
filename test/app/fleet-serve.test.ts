// Two proxies sharing one login through Redis (store.url): one identity-domain call per cycle, adoption, a login stored once.
import t from 'tap'
import { request } from 'undici'
import type { RunningProxy } from '../../src/app/run.js'
import { STORE_METRIC_NAMES } from '../../src/admin/metrics.js'
import { redisMissing } from '../helpers/redis-server.js'
import { startFleet } from '../helpers/fleet.js'

const missing = redisMissing()

async function get(p: RunningProxy): Promise<number> {
  const res = await request(`${p.url}/api/20210901/snapshots`)
  await res.body.dump()
  return res.statusCode
}

t.test('a fleet on Redis', { skip: missing ?? false }, async (t) => {
  t.test('the second replica starts on the stored token: one identity-domain call for both', async (t) => {
    const fleet = await startFleet(t, 2)
    t.equal(fleet.sim.stats().tokenCalls, 1)
    t.same(await Promise.all(fleet.proxies.map(get)), [200, 200])
    t.match(fleet.redis.cli('KEYS', '*'), /oac-token-proxy:\{[0-9a-f]+\}:state/)
    t.match(
      fleet.redis.cli('HGET', fleet.redis.cli('KEYS', '*:state').trim(), 'd'),
      /^a256gcm\.[^.]+\.[^.]+\.[^.]+\.[^.]+$/,
      'sealed at rest',
    )
    const status = (await (await request(`${fleet.proxies[1]!.adminUrl}/-/status`)).body.json()) as {
      store: {
        kind: string
        target: string
        encrypted: boolean
        credentials: Record<string, { version: number; adoptions: number; writtenBy: string }>
      }
    }
    t.equal(status.store.kind, 'redis')
    t.match(status.store.target, /^redis:\/\/127\.0\.0\.1:\d+/)
    t.equal(status.store.encrypted, true)
    t.equal(status.store.credentials.default?.version, 1)
    t.match(status.store.credentials.default?.writtenBy, /\//, 'the writer replica is named')
    const metrics = await (await request(`${fleet.proxies[1]!.adminUrl}/-/metrics`)).body.text()
    for (const name of STORE_METRIC_NAMES) t.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`)
    t.match(metrics, /^oac_proxy_store_operations_total\{operation="read",result="ok"\} [1-9]/m)
    t.match(metrics, /^oac_proxy_store_state_version\{credential="default"\} 1$/m)
  })

  t.test('cycles: one refresh per cycle for the fleet, the others adopt it', async (t) => {
    const fleet = await startFleet(t, 3)
    const before = fleet.sim.stats().tokenCalls
    for (let cycle = 0; cycle < 5; cycle++) {
      await fleet.clock.advance(50_000)
      for (const p of fleet.proxies) await p.manager.settled()
      t.same(await Promise.all(fleet.proxies.map(get)), [200, 200, 200], `cycle ${cycle}`)
    }
    const calls = fleet.sim.stats().tokenCalls - before
    t.ok(calls >= 5 && calls <= 6, `${calls} token calls for 5 cycles of 3 replicas`)
    t.equal(fleet.sim.stats().staleRefreshTokenUses, 0)
    t.equal(fleet.sim.stats().oacExpiredTokenRequests, 0)
  })

  t.test(
    'Redis down past the token life: 503 store_unavailable; back empty: re-seeded, served, no login',
    async (t) => {
      const fleet = await startFleet(t, 2)
      await fleet.redis.stop()
      // the held tokens are served while they last
      await fleet.clock.advance(60_000)
      t.same(await Promise.all(fleet.proxies.map(get)), [200, 200])
      const callsDuringOutage = fleet.sim.stats().tokenCalls
      await fleet.clock.advance(40_000)
      for (const p of fleet.proxies) await p.manager.settled()
      const res = await request(`${fleet.proxies[0]!.url}/api/20210901/snapshots`)
      t.equal(res.statusCode, 503)
      t.equal(((await res.body.json()) as { error: string }).error, 'store_unavailable')
      t.equal(fleet.sim.stats().tokenCalls, callsDuringOutage, 'a refresh_token fleet calls nobody while Redis is down')
      await fleet.redis.start()
      let statuses: number[] = []
      for (let i = 0; i < 100; i++) {
        await fleet.clock.advance(1_000)
        for (const p of fleet.proxies) await p.manager.settled()
        statuses = await Promise.all(fleet.proxies.map(get))
        if (statuses.every((s) => s === 200)) break
        await new Promise((r) => setTimeout(r, 50))
      }
      t.same(statuses, [200, 200], 'recovered with no login')
      t.equal(fleet.sim.stats().staleRefreshTokenUses, 0)
      t.match(fleet.logs.map((l) => l.text()).join(''), /"event":"store.seeded"/)
    },
  )
})
