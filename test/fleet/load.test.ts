// Five replica processes share one grant through Redis under load (2 s tokens, rotation on): every request succeeds,
// no expired token is forwarded, no stale refresh token is presented, and the identity domain sees one call per
// refresh cycle for the whole fleet.
import t from 'tap'
import {
  CATALOG,
  Fleet,
  quantile,
  redisMissing,
  refreshMargins,
  report,
  runLoad,
  stateKeys,
  type Replica,
} from './helpers.js'

const REPLICAS = 5
const LIFETIME_S = 2
const DURATION_MS = 60_000

t.setTimeout(240_000)

t.test('5 replicas, one grant, 60 s of load with 2 s tokens', { skip: redisMissing() }, async (t) => {
  const fleet = await Fleet.start(t, { lifetimeS: LIFETIME_S })
  await fleet.spawnAll(REPLICAS)
  const before = fleet.sim.stats()
  const writesBefore = fleet.watch.writes().length
  const perReplica = new Map<string, number>()
  const started = performance.now()
  const startedMs = Date.now()
  const tally = await runLoad(fleet, {
    durationMs: DURATION_MS,
    loops: 2,
    pauseMs: 25,
    counts: (r: Replica) => {
      perReplica.set(r.id, (perReplica.get(r.id) ?? 0) + 1)
      return true
    },
    path: () => CATALOG,
  })
  const spanS = (performance.now() - started) / 1000
  const exits = await fleet.stopAll()
  const after = fleet.sim.stats()
  const writes = fleet.watch.writes().slice(writesBefore)
  const tokenCalls = after.tokenCalls - before.tokenCalls
  const writers = new Set(writes.map((w) => w.writer))
  const { margins } = refreshMargins(fleet.sim, startedMs)
  const early = margins.filter((m) => m < -100)
  // an adopted token with no life left makes its manager refresh again at once, in a loop
  const lifeless = fleet.replicas.flatMap((r) =>
    r.proxy.lines.filter((l) => l.event === 'token.refreshed' && Number(l.lifetimeMs) < 50),
  )
  // a refresh is due at half a token's life, minus up to 10 % jitter: no sooner than at 0.4 of it. The JWT's exp,
  // rounded down to a second, may shorten a 2 s token to 1 s (never less: token/lifetime.ts)
  const cycles = spanS / (LIFETIME_S * 0.5)
  const most = 1 + Math.floor(spanS / (0.4 * (LIFETIME_S / 2)))

  report(
    t,
    `fleet load: ${REPLICAS} replicas, ${spanS.toFixed(0)} s, ${tally.total} requests (${tally.summary()}), ` +
      `${tokenCalls} identity-domain calls for ${writes.length} stored versions (${(tokenCalls / cycles).toFixed(2)} ` +
      `calls per refresh cycle of ${LIFETIME_S / 2} s for the whole fleet, written by ${writers.size} replicas), ` +
      `expired tokens forwarded ${after.oacExpiredTokenRequests}, stale refresh tokens ${after.staleRefreshTokenUses}`,
  )
  report(
    t,
    `fleet load: each call came after the previous token was due (0.4 of its life) by a median ` +
      `${quantile(margins, 0.5).toFixed(0)} ms, min ${quantile(margins, 0).toFixed(0)} ms, over ${margins.length} calls`,
  )

  t.ok(tally.total >= 1000, `the load ran (${tally.total} requests)`)
  t.equal(tally.ok(), tally.total, `every request succeeded (${tally.summary()})`)
  t.same(
    tally.failures.slice(0, 3).map((f) => f.answer),
    [],
    'no failed answer',
  )
  for (let i = 0; i < REPLICAS; i++)
    t.ok((perReplica.get(`r${i}.1`) ?? 0) > 100, `replica r${i}.1 served its share (${perReplica.get(`r${i}.1`)})`)
  t.equal(after.oacExpiredTokenRequests, 0, 'no expired token was forwarded')
  t.equal(after.oacUnauthorized, 0, 'OAC never answered 401')
  t.equal(after.staleRefreshTokenUses, 0, 'no stale refresh token was presented')
  t.equal(after.refreshGrants - before.refreshGrants, tokenCalls, 'every identity-domain call was a successful refresh')
  t.equal(tokenCalls, writes.length, 'each call is one stored version: no replica refreshed for itself')
  t.ok(
    tokenCalls <= most,
    `at most one call per refresh cycle for the whole fleet (${tokenCalls} calls, bound ${most}; ` +
      `${REPLICAS} replicas refreshing alone would make about ${Math.round(REPLICAS * cycles)})`,
  )
  t.same(early.slice(0, 5), [], 'no call came before the stored token was due: one call per refresh cycle')
  t.equal(lifeless.length, 0, 'no replica took a token with no life left (no refresh loop)')
  t.ok(tokenCalls >= spanS / LIFETIME_S - 2, `the fleet kept refreshing (${tokenCalls} calls in ${spanS.toFixed(0)} s)`)
  t.same(exits, Array(REPLICAS).fill(0), 'every replica stops cleanly on SIGTERM')
  t.equal(stateKeys(fleet.redis, fleet.keyPrefix).length, 1, 'one state key for the one credential')
})
