// FleetRefresher through Sentinel: three replicas keep refreshing one rotating grant across a failover; no rotation lost.
import t from 'tap'
import { FakeClock } from '../../src/shared/clock.js'
import { refreshTokenGrant } from '../../src/oauth/grants/refresh-token.js'
import { FleetRefresher, type FleetResult } from '../../src/token/fleet.js'
import { startSimulator } from '../../src/simulator/index.js'
import { StateCipher } from '../../src/token/store/redis/index.js'
import { LogCapture } from '../helpers.js'
import { simEndpoint, testRefresher } from '../helpers/fleet-refresher.js'
import { redisMissing, startSentinelSet } from '../helpers/redis-server.js'
import { IDENTITY, openTestStore, testKey } from '../helpers/redis-store.js'

const missing = redisMissing() ?? redisMissing('redis-sentinel')

/** Retries a refresh while the store is switching masters (store_unavailable), for up to 30 s. */
async function refreshThrough(replica: FleetRefresher): Promise<FleetResult> {
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      return await replica.refresh()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

t.test('a Sentinel failover during refreshes loses no rotation', { skip: missing ?? false }, async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const set = await startSentinelSet(t)
  const key = testKey()
  const logs = new LogCapture()
  const replicas: FleetRefresher[] = []
  for (let i = 0; i < 3; i++) {
    const store = await openTestStore(
      t,
      { sentinel: { masterName: set.masterName, nodes: [`127.0.0.1:${set.sentinelPort}`] }, commandTimeoutMs: 1_000 },
      { cipher: new StateCipher(key), replicaId: `replica-${i}` },
    )
    replicas.push(testRefresher(t, store.credential(IDENTITY), refreshTokenGrant(simEndpoint(t, sim)), { logs, clock }))
  }
  replicas[0]!.hold(1, { refreshToken: sim.issueRefreshToken() })
  await replicas[0]!.read()

  const rounds = 8
  let failedOver = false
  for (let round = 0; round < rounds; round++) {
    if (round === 3) {
      // the switch starts while the fleet refreshes
      const failover = set.failover().then(() => (failedOver = true))
      const results = await Promise.all(replicas.map(refreshThrough))
      t.equal(new Set(results.map((r) => (r.kind === 'adopted' ? r.state.accessToken : r.set.accessToken))).size, 1)
      await failover
    } else {
      const results = await Promise.all(replicas.map(refreshThrough))
      t.equal(new Set(results.map((r) => (r.kind === 'adopted' ? r.state.accessToken : r.set.accessToken))).size, 1)
    }
    await clock.advance(95_000)
  }
  t.ok(failedOver, 'the replica was promoted')
  t.equal(sim.stats().staleRefreshTokenUses, 0, 'no stale refresh token presented: no rotation lost')
  t.equal(sim.stats().refreshGrants, rounds, 'one refresh per round for the fleet')
  const last = await replicas[2]!.read()
  t.equal(last?.version, rounds + 1)
})
