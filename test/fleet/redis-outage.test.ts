// Redis stopped for longer than a token's life, then restarted empty. A refresh_token fleet serves the tokens it holds
// until they expire and then answers 503 store_unavailable (it never refreshes alone: that would fork the rotation
// chain); once Redis is back the replicas re-seed it (highest version wins) and recover with no login.
import t from 'tap'
import {
  ask,
  Fleet,
  label,
  redisMissing,
  report,
  serveUntilOk,
  sleep,
  stateKeys,
  storedVersion,
  type Answer,
} from './helpers.js'

const REPLICAS = 3
const LIFETIME_S = 3
const OUTAGE_MS = 3 * LIFETIME_S * 1000
/** Calls of refreshes begun before Redis stopped may still arrive this soon after it. */
const GRACE_MS = 1_000

t.setTimeout(180_000)

interface Seen {
  /** ms since Redis was stopped (negative: before). */
  at: number
  replica: string
  answer: Answer
}

t.test(
  'Redis down longer than a token, back empty: serve, then 503, then re-seed',
  { skip: redisMissing() },
  async (t) => {
    const fleet = await Fleet.start(t, { lifetimeS: LIFETIME_S })
    await fleet.spawnAll(REPLICAS)
    for (const r of fleet.replicas) t.equal(await serveUntilOk(r, 15_000), 'ok', `${r.id} serves before the outage`)
    const [key] = stateKeys(fleet.redis, fleet.keyPrefix)
    t.ok(key, 'the fleet keeps its state in Redis')
    const issuedBefore = fleet.sim.issued.refreshTokens.length
    const grantsBefore = fleet.sim.stats().refreshGrants

    const seen: Seen[] = []
    let stoppedAt = performance.now()
    let stop = false
    const loops = fleet.replicas.map(async (r) => {
      while (!stop) {
        const answer = await ask(r)
        seen.push({ at: performance.now() - stoppedAt, replica: r.id, answer })
        await sleep(50)
      }
    })

    await sleep(500)
    const versionBefore = storedVersion(fleet.redis, key as string)
    const callsBefore = fleet.sim.stats().tokenCalls
    stoppedAt = performance.now()
    await fleet.redis.stop()
    // a refresh that read Redis and took the lock just before the stop may still reach the identity domain just after:
    // count the calls of the outage from a second in (every later one would have had to read Redis first)
    await sleep(GRACE_MS)
    const callsAtGrace = fleet.sim.stats().tokenCalls
    await sleep(OUTAGE_MS - GRACE_MS)
    const callsDuring = fleet.sim.stats().tokenCalls - callsAtGrace
    const callsAtStop = callsAtGrace - callsBefore
    const restartedAt = performance.now() - stoppedAt
    await fleet.redis.start()

    // every replica recovers by itself
    const recovery: string[] = []
    for (const r of fleet.replicas) recovery.push(`${r.id}: ${await serveUntilOk(r, 20_000)}`)
    const recoveredAt = performance.now() - stoppedAt
    await sleep(LIFETIME_S * 1000)
    stop = true
    await Promise.all(loops)
    const exits = await fleet.stopAll()
    const versionAfter = storedVersion(fleet.redis, key as string)
    const stats = fleet.sim.stats()

    const during = seen.filter((s) => s.at >= 0 && s.at < restartedAt)
    const held = during.filter((s) => s.answer.status === 200)
    const lastHeldMs = Math.max(...held.map((s) => s.at))
    const unexpected = during.filter((s) => s.answer.status !== 200 && label(s.answer) !== '503 store_unavailable')
    const endOfOutage = during.filter((s) => s.at > LIFETIME_S * 1000 + 1_000)
    const withoutRetryAfter = during.filter((s) => s.answer.status === 503 && !s.answer.retryAfter)
    const afterRecovery = seen.filter((s) => s.at > recoveredAt)
    report(
      t,
      `fleet Redis outage: ${OUTAGE_MS / 1000} s down (tokens of ${LIFETIME_S} s): held tokens served for ` +
        `${(lastHeldMs / 1000).toFixed(1)} s (${held.length} answers 200), then 503 store_unavailable ` +
        `(${during.length - held.length} answers); ${callsDuring} identity-domain calls while down (${callsAtStop} begun before the stop); back empty: all ` +
        `replicas served again ${((recoveredAt - restartedAt) / 1000).toFixed(1)} s after the restart; version ` +
        `${versionBefore} before, ${versionAfter} at the end`,
    )

    t.equal(callsDuring, 0, 'no replica refreshed a rotating grant on its own while Redis was down')
    t.ok(held.length > 0, 'the held tokens were served after Redis stopped')
    t.ok(lastHeldMs <= LIFETIME_S * 1000 + 500, `no token was served past its life (${lastHeldMs.toFixed(0)} ms)`)
    t.same(unexpected.slice(0, 3), [], 'during the outage every answer was 200 or 503 store_unavailable')
    t.ok(endOfOutage.length > 10, 'requests kept coming once the tokens had expired')
    t.ok(
      endOfOutage.every((s) => label(s.answer) === '503 store_unavailable'),
      'after the tokens expired every answer was 503 store_unavailable',
    )
    t.same(withoutRetryAfter.slice(0, 3), [], 'every 503 carries Retry-After')
    t.same(
      recovery,
      fleet.replicas.map((r) => `${r.id}: ok`),
      'every replica serves again after the restart',
    )
    t.same(
      afterRecovery.filter((s) => s.answer.status !== 200).slice(0, 3),
      [],
      'after the recovery every answer is 200',
    )
    t.ok(
      versionAfter > versionBefore,
      `the emptied Redis was re-seeded and the chain went on (${versionBefore} -> ${versionAfter})`,
    )
    const seeds = fleet.watch.events.filter((e) => e.kind === 'seed')
    t.ok(
      seeds.every((e) => e.version >= versionBefore),
      `a seed never went below the version before the outage (${seeds.map((e) => e.version).join(', ') || 'none seen'})`,
    )
    t.equal(stats.staleRefreshTokenUses, 0, 'no stale refresh token was presented')
    t.equal(stats.oacExpiredTokenRequests, 0, 'no expired token was forwarded')
    t.equal(
      fleet.sim.issued.refreshTokens.length - issuedBefore,
      stats.refreshGrants - grantsBefore,
      'no login: every refresh token issued since came from a refresh',
    )
    t.equal(fleet.sim.deviceRequests().length, 0, 'nobody was asked to log in')
    t.same(exits, Array(REPLICAS).fill(0), 'every replica stops cleanly on SIGTERM')
  },
)
