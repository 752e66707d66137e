// FleetRefresher: replicas (each its own Redis connection) refreshing one grant against the simulator's rotating IDCS.
import t, { type Test } from 'tap'
import { FakeClock } from '../../src/shared/clock.js'
import { ProxyError } from '../../src/shared/errors.js'
import { Secret } from '../../src/shared/secret.js'
import type { Grant } from '../../src/oauth/types.js'
import type { TokenEndpoint } from '../../src/oauth/token-endpoint.js'
import { refreshTokenGrant } from '../../src/oauth/grants/refresh-token.js'
import { passwordGrant } from '../../src/oauth/grants/password.js'
import type { FleetRefresher, FleetResult } from '../../src/token/fleet.js'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import { DEFAULT_USER, DEFAULT_USER_PASSWORD } from '../../src/simulator/constants.js'
import { LogCapture } from '../helpers.js'
import { simEndpoint, testRefresher } from '../helpers/fleet-refresher.js'
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.js'
import { IDENTITY, openTestStore, testKey } from '../helpers/redis-store.js'
import { StateCipher } from '../../src/token/store/redis/index.js'

const missing = redisMissing()

interface Fleet {
  sim: Simulator
  redis: RedisServer
  replicas: FleetRefresher[]
  logs: LogCapture
  clock: FakeClock
  key: ReturnType<typeof testKey>
}

async function startFleet(
  t: Test,
  size: number,
  grantOf: (endpoint: TokenEndpoint, sim: Simulator) => Grant,
  options: { keyPrefix?: string; lockWaitMs?: number } = {},
): Promise<Fleet> {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const redis = await startRedis(t)
  const key = testKey()
  const logs = new LogCapture()
  const replicas: FleetRefresher[] = []
  for (let i = 0; i < size; i++) {
    const store = await openTestStore(
      t,
      { url: redis.url, commandTimeoutMs: 500 },
      {
        cipher: new StateCipher(key),
        replicaId: `replica-${i}`,
        ...(options.keyPrefix ? { keyPrefix: options.keyPrefix } : {}),
      },
    )
    replicas.push(
      testRefresher(t, store.credential(IDENTITY), grantOf(simEndpoint(t, sim), sim), {
        logs,
        clock,
        ...(options.lockWaitMs ? { lockWaitMs: options.lockWaitMs } : {}),
      }),
    )
  }
  return { sim, redis, replicas, logs, clock, key }
}

const rotating = (endpoint: TokenEndpoint): Grant => refreshTokenGrant(endpoint)

function accessTokenOf(r: FleetResult): string | undefined {
  return r.kind === 'adopted' ? r.state.accessToken : r.set.accessToken
}

t.test('FleetRefresher', { skip: missing }, async (t) => {
  t.test('five replicas refreshing at once: one identity-domain call, one token, one version', async (t) => {
    const fleet = await startFleet(t, 5, rotating)
    fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
    // the replica that holds the login puts it into the empty store (as a proxy does at start)
    t.equal((await fleet.replicas[0]!.read())?.version, 1)
    const callsBefore = fleet.sim.stats().tokenCalls
    const results = await Promise.all(fleet.replicas.map((r) => r.refresh()))
    t.equal(fleet.sim.stats().tokenCalls - callsBefore, 1, 'one token call for the fleet')
    t.equal(results.filter((r) => r.kind === 'obtained').length, 1)
    t.equal(results.filter((r) => r.kind === 'adopted').length, 4)
    t.equal(new Set(results.map(accessTokenOf)).size, 1, 'every replica serves the same access token')
    t.same(
      fleet.replicas.map((r) => r.version),
      [2, 2, 2, 2, 2],
    )
    t.equal(fleet.sim.stats().staleRefreshTokenUses, 0)
  })

  t.test('twenty rounds of concurrent refreshes: calls = rounds, no stale refresh token presented', async (t) => {
    const fleet = await startFleet(t, 4, rotating)
    fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
    // the replica that holds the login puts it into the empty store (as a proxy does at start)
    t.equal((await fleet.replicas[0]!.read())?.version, 1)
    const callsBefore = fleet.sim.stats().tokenCalls
    for (let round = 0; round < 20; round++) {
      // every replica's token is due: a fresh() that refuses everything stored so far
      const results = await Promise.all(fleet.replicas.map((r) => r.refresh()))
      t.equal(new Set(results.map(accessTokenOf)).size, 1, `round ${round}: one token`)
      await fleet.clock.advance(95_000)
    }
    t.equal(fleet.sim.stats().tokenCalls - callsBefore, 20)
    t.equal(fleet.sim.stats().staleRefreshTokenUses, 0)
    t.equal(fleet.replicas[3]!.version, 21)
  })

  t.test('an announcement makes the other replicas adopt without calling', async (t) => {
    const fleet = await startFleet(t, 3, rotating)
    const adopted: Array<{ replica: number; version: number }> = []
    await Promise.all(fleet.replicas.map((r, i) => r.follow((a) => adopted.push({ replica: i, version: a.version }))))
    fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
    const result = await fleet.replicas[0]!.refresh()
    t.equal(result.kind, 'obtained')
    const deadline = Date.now() + 5_000
    while (adopted.filter((a) => a.replica !== 0).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10))
    t.same(
      adopted.filter((a) => a.replica !== 0).sort((a, b) => a.replica - b.replica),
      [
        { replica: 1, version: 2 },
        { replica: 2, version: 2 },
      ],
    )
    t.equal(fleet.sim.stats().refreshGrants, 1)
  })

  t.test('Redis restarted empty: the next read seeds it from the newest state held, no login needed', async (t) => {
    const fleet = await startFleet(t, 2, rotating)
    fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
    await fleet.replicas[0]!.refresh()
    await fleet.replicas[1]!.refresh()
    await fleet.redis.stop()
    await fleet.redis.start()
    // both reconnect by themselves; the first read finds nothing and seeds version 2
    let seen
    for (let i = 0; i < 100 && !seen; i++) {
      seen = await fleet.replicas[1]!.read().catch(() => undefined)
      if (!seen) await new Promise((r) => setTimeout(r, 50))
    }
    t.equal(seen?.version, 2)
    t.match(fleet.logs.text(), /"event":"store.seeded"/)
    await fleet.clock.advance(95_000)
    const after = await fleet.replicas[0]!.refresh()
    t.equal(after.kind, 'obtained')
    t.equal(after.version, 3)
    t.equal(fleet.sim.stats().staleRefreshTokenUses, 0)
  })

  t.test('Redis down: a refresh_token grant refuses with store_unavailable and calls nobody', async (t) => {
    const fleet = await startFleet(t, 1, rotating)
    fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
    await fleet.redis.stop()
    const before = fleet.sim.stats().tokenCalls
    const err = (await fleet.replicas[0]!.refresh().catch((e: unknown) => e)) as ProxyError
    t.equal(err.code, 'store_unavailable')
    t.equal(fleet.sim.stats().tokenCalls, before)
  })

  t.test('Redis down: a password grant refreshes for its replica alone', async (t) => {
    const fleet = await startFleet(t, 1, (endpoint, sim) =>
      passwordGrant(endpoint, DEFAULT_USER, new Secret(DEFAULT_USER_PASSWORD, 'test'), sim.scope),
    )
    await fleet.redis.stop()
    const result = await fleet.replicas[0]!.refresh()
    t.equal(result.kind, 'obtained')
    t.equal(result.kind === 'obtained' && result.stored, false)
    t.match(fleet.logs.text(), /"event":"store.refresh_alone"/)
  })

  t.test('a stored token the upstream rejected is refreshed, not adopted again', async (t) => {
    const fleet = await startFleet(t, 2, rotating)
    fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
    await fleet.replicas[0]!.read()
    const first = await fleet.replicas[0]!.refresh()
    const firstToken = accessTokenOf(first)
    const adopted = await fleet.replicas[1]!.refresh()
    t.equal(adopted.kind, 'adopted', 'a fresh stored token is adopted')
    t.equal(accessTokenOf(adopted), firstToken)
    const forced = await fleet.replicas[1]!.refresh({ rejected: firstToken })
    t.equal(forced.kind, 'obtained')
    t.not(accessTokenOf(forced), firstToken)
    t.equal(forced.version, 3)
    t.equal(fleet.sim.stats().refreshGrants, 2)
  })

  t.test("a replica waiting for the lock adopts the holder's announced token at once", async (t) => {
    const fleet = await startFleet(t, 2, rotating, { lockWaitMs: 20_000 })
    await fleet.replicas[1]!.follow(() => {})
    fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
    await fleet.replicas[0]!.read()
    // the identity domain answers the holder after 1.5 s
    fleet.sim.faults.idcs.next({ kind: 'latency', ms: 1_500 })
    const holder = fleet.replicas[0]!.refresh()
    await new Promise((r) => setTimeout(r, 200))
    const started = Date.now()
    const waiter = await fleet.replicas[1]!.refresh()
    t.equal(waiter.kind, 'adopted')
    t.equal(accessTokenOf(waiter), accessTokenOf(await holder))
    t.ok(Date.now() - started < 3_000, `adopted ${Date.now() - started} ms after it began waiting`)
    t.equal(fleet.sim.stats().refreshGrants, 1)
  })

  t.test('two credentials with other prefixes on one Redis never see each other', async (t) => {
    const a = await startFleet(t, 1, rotating, { keyPrefix: 'app-a' })
    a.replicas[0]!.hold(1, { refreshToken: a.sim.issueRefreshToken() })
    await a.replicas[0]!.refresh()
    const b = await startFleet(t, 1, rotating, { keyPrefix: 'app-b' })
    t.equal(await b.replicas[0]!.read(), undefined)
  })

  t.test('two credentials on one Redis and one prefix keep their own versions and tokens', async (t) => {
    const fleet = await startFleet(t, 1, rotating)
    const store = await openTestStore(t, { url: fleet.redis.url })
    const other = store.credential({ ...IDENTITY, credentialName: 'reports' })
    t.same(await other.write(0, { refreshToken: 'other-credential-rt' }), { ok: true, version: 1 })
    fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
    await fleet.replicas[0]!.read()
    await fleet.replicas[0]!.refresh()
    await fleet.clock.advance(95_000)
    await fleet.replicas[0]!.refresh()
    t.equal(fleet.replicas[0]!.version, 3)
    const untouched = await other.read()
    t.equal(untouched?.version, 1)
    t.equal(untouched?.state.refreshToken, 'other-credential-rt')
  })

  t.test(
    'Redis back older than the fleet (lost writes, a restore): the newer state is put back, nothing stale presented',
    async (t) => {
      const fleet = await startFleet(t, 2, rotating)
      fleet.replicas[0]!.hold(1, { refreshToken: fleet.sim.issueRefreshToken() })
      await fleet.replicas[0]!.read()
      const first = (await fleet.replicas[0]!.read())!.state.refreshToken
      await fleet.replicas[0]!.refresh()
      await fleet.clock.advance(95_000)
      await fleet.replicas[1]!.refresh()
      t.equal(fleet.replicas[1]!.version, 3)
      // Redis comes back holding version 1, written long ago (its refresh token retired twice since)
      fleet.redis.cli('FLUSHALL')
      const restore = await openTestStore(
        t,
        { url: fleet.redis.url },
        { cipher: new StateCipher(fleet.key), now: () => 1_000 },
      )
      await restore.credential(IDENTITY).write(0, { refreshToken: first })
      const seen = await fleet.replicas[1]!.read()
      t.equal(seen?.version, 3, 'the newer state was seeded back')
      t.match(fleet.logs.text(), /"event":"store.reseeded"/)
      await fleet.clock.advance(95_000)
      const after = await fleet.replicas[0]!.refresh()
      t.equal(after.kind, 'obtained')
      t.equal(fleet.sim.stats().staleRefreshTokenUses, 0, 'the retired refresh token was never presented')
    },
  )

  t.test(
    'a writer racing a rotation with the retired refresh token (an import): the rotated one is kept',
    async (t) => {
      const fleet = await startFleet(t, 1, rotating)
      const rt1 = fleet.sim.issueRefreshToken()
      fleet.replicas[0]!.hold(1, { refreshToken: rt1 })
      await fleet.replicas[0]!.read()
      const importer = (
        await openTestStore(t, { url: fleet.redis.url }, { cipher: new StateCipher(fleet.key) })
      ).credential(IDENTITY)
      // the identity domain answers after 1 s; meanwhile the importer writes version 2 carrying rt1 forward
      fleet.sim.faults.idcs.next({ kind: 'latency', ms: 1_000 })
      const refreshing = fleet.replicas[0]!.refresh()
      await new Promise((r) => setTimeout(r, 300))
      t.same(
        await importer.write(1, {
          refreshToken: rt1,
          accessToken: 'imported-access',
          accessTokenExpiresAtMs: Date.now() + 3_600_000,
        }),
        { ok: true, version: 2 },
      )
      await refreshing
      const stored = await importer.read()
      t.not(stored?.state.refreshToken, rt1, 'the stored refresh token is the rotated one, not the retired one')
      t.equal(stored?.state.refreshToken, fleet.sim.issued.refreshTokens.at(-1))
      t.equal(fleet.replicas[0]!.heldRefreshToken, stored?.state.refreshToken)
    },
  )

  t.test('a sign-in while Redis is down is kept and stored when Redis answers (serve)', async (t) => {
    const fleet = await startFleet(t, 1, rotating)
    await fleet.redis.stop()
    const login = fleet.sim.issueRefreshToken()
    await fleet.replicas[0]!.storeLogin({ refreshToken: login }, { keepOnFailure: true })
    t.match(fleet.logs.text(), /"event":"store.login_pending"/)
    t.equal(fleet.replicas[0]!.heldRefreshToken, login)
    await fleet.redis.start()
    let seen
    for (let i = 0; i < 100 && !seen; i++) {
      seen = await fleet.replicas[0]!.read().catch(() => undefined)
      if (!seen) await new Promise((r) => setTimeout(r, 50))
    }
    t.equal(seen?.state.refreshToken, login, 'the sign-in reached the store')
  })
})
