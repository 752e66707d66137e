// One Redis, several tenants: a config with two credentials, an unrelated config of another identity domain under
// another key prefix, and a third one under the same prefix. Each credential keeps its own keys and version chain,
// refreshes once per cycle against its own identity domain, and never sees the others' tokens.
import t from 'tap'
import {
  CATALOG,
  Fleet,
  redisMissing,
  refreshMargins,
  report,
  runLoad,
  stateKeys,
  type Announcement,
} from './helpers.js'

const LIFETIME_S = 2
const DURATION_MS = 20_000

t.setTimeout(180_000)

/** Versions written on each channel, in order. */
function chains(events: Announcement[]): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const e of events) if (e.kind === 'write') out.set(e.channel, [...(out.get(e.channel) ?? []), e.version])
  return out
}

t.test('two credentials and two unrelated configs on one Redis', { skip: redisMissing() }, async (t) => {
  // A: two credentials (the default one and `second`, routed under /second/), two replicas
  const a = await Fleet.start(t, {
    lifetimeS: LIFETIME_S,
    name: 'a',
    files: (sim) => ({ 'refresh-token-2': sim.issueRefreshToken() }),
    config: (sim) => ({
      credentials: {
        second: {
          clientId: sim.clientId,
          clientSecret: { file: 'client-secret' },
          scope: sim.scope,
          refreshToken: { file: 'refresh-token-2' },
        },
      },
      routes: [{ prefix: '/second/', upstream: sim.oacUrl, credential: 'second' }],
    }),
  })
  // B: another identity domain under another prefix; C: another identity domain under the same prefix as A
  const b = await Fleet.start(t, { lifetimeS: LIFETIME_S, name: 'b', redis: a.redis, keyPrefix: 'other-proxy' })
  const c = await Fleet.start(t, { lifetimeS: LIFETIME_S, name: 'c', redis: a.redis })
  await Promise.all([a.spawnAll(2), b.spawnAll(2), c.spawnAll(1)])
  const fleets = [a, b, c]
  const before = fleets.map((f) => f.sim.stats())
  const writesBefore = fleets.map((f) => f.watch.events.length)

  let turn = 0
  const started = performance.now()
  const startedMs = Date.now()
  const tallies = await Promise.all(
    fleets.map((f) =>
      runLoad(f, {
        durationMs: DURATION_MS,
        loops: f === a ? 2 : 1,
        pauseMs: 40,
        // A's loops alternate between its two credentials
        path: () => (f === a && turn++ % 2 === 1 ? '/second' + CATALOG : CATALOG),
      }),
    ),
  )
  const spanS = (performance.now() - started) / 1000
  const exits = await Promise.all(fleets.map((f) => f.stopAll()))
  const after = fleets.map((f) => f.sim.stats())

  const keysDefault = stateKeys(a.redis, 'oac-token-proxy')
  const keysOther = stateKeys(a.redis, 'other-proxy')
  // A's and C's watches both see the default prefix: attribute writes by the writer's name
  const own = (f: Fleet): Announcement[] =>
    f.watch.events
      .slice(writesBefore[fleets.indexOf(f)])
      .filter((e) => e.kind === 'write' && e.writer.startsWith(f.name))
  const writes = fleets.map(own)
  const writersOf = new Map<string, Set<string>>()
  for (const e of [...a.watch.events, ...b.watch.events])
    if (e.kind === 'write')
      writersOf.set(e.channel, new Set([...(writersOf.get(e.channel) ?? []), e.writer[0] as string]))
  const calls = fleets.map((_, i) => (after[i]?.tokenCalls ?? 0) - (before[i]?.tokenCalls ?? 0))

  report(
    t,
    `fleet neighbours: ${keysDefault.length + keysOther.length} credentials on one Redis, ` +
      fleets
        .map(
          (f, i) =>
            `${f.name}: ${tallies[i]?.total} requests (${tallies[i]?.summary()}), ${calls[i]} identity-domain calls, ` +
            `${writes[i]?.length} versions`,
        )
        .join('; '),
  )

  t.equal(keysDefault.length, 3, 'A (two credentials) and C have their own state keys under the default prefix')
  t.equal(keysOther.length, 1, 'B has its own state key under its prefix')
  for (const [channel, writers] of writersOf)
    t.equal(writers.size, 1, `only one deployment writes ${channel.replace(/\{[0-9a-f]+\}/, '{...}')}`)
  const aChains = [...chains(a.watch.events)].filter(([, v]) => v.length > 0)
  for (const [channel, versions] of [...aChains, ...chains(b.watch.events)]) {
    const gaps = versions.filter((v, i) => i > 0 && v !== (versions[i - 1] as number) + 1)
    t.same(gaps, [], `the versions of ${channel.replace(/\{[0-9a-f]+\}/, '{...}')} follow each other`)
  }
  fleets.forEach((f, i) => {
    const tally = tallies[i]
    t.ok((tally?.total ?? 0) > 100, `${f.name}: the load ran (${tally?.total})`)
    t.equal(tally?.ok(), tally?.total, `${f.name}: every request succeeded (${tally?.summary()})`)
    t.equal(after[i]?.staleRefreshTokenUses, 0, `${f.name}: no stale refresh token`)
    t.equal(after[i]?.oacUnauthorized, 0, `${f.name}: OAC never saw a token it did not issue, nor an expired one`)
    // one call, one version; a refresh straddling the start or the end of the window may count on one side only
    const diff = Math.abs((calls[i] ?? 0) - (writes[i]?.length ?? 0))
    t.ok(
      diff <= 1,
      `${f.name}: each identity-domain call is one version of its own (${calls[i]} calls, ${writes[i]?.length} versions)`,
    )
    t.same(exits[i], Array(f.replicas.length).fill(0), `${f.name}: replicas stop cleanly`)
  })
  // one call per refresh cycle: no call before the previous token was due (0.4 of its life, the JWT's exp rounded)
  for (const f of [b, c]) {
    const { margins } = refreshMargins(f.sim, startedMs)
    t.same(
      margins.filter((m) => m < -100).slice(0, 3),
      [],
      `${f.name}: one call per refresh cycle (${margins.length} calls, earliest ${Math.round(Math.min(...margins))} ms after due)`,
    )
  }
  // A's two credentials share its identity domain: at most one call per cycle each (a 2 s token lives 1-2 s)
  const most = 2 * (1 + Math.floor(spanS / (0.4 * (LIFETIME_S / 2))))
  t.ok((calls[0] ?? 0) <= most, `A: at most one call per cycle per credential (${calls[0]}, bound ${most})`)
})
