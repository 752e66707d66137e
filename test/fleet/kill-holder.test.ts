// The replica holding the refresh lock is SIGKILLed during refreshes, 20 times, and restarted each time: no stale
// refresh token is ever presented, the versions continue without a fork, the fleet keeps serving. Also measures the
// window between the identity domain's answer and the stored write (the one moment a kill loses a rotation).
import t from 'tap'
import {
  Fleet,
  quantile,
  redisMissing,
  report,
  runLoad,
  serveUntilOk,
  sleep,
  waitFor,
  type Replica,
} from './helpers.js'
import type { TapExchange } from './idcs-tap.js'

const REPLICAS = 3
const LIFETIME_S = 4
const KILLS = 20

/** Where in the holder's refresh the kill lands. */
const PHASES = [
  'as its token request arrives',
  'while the identity domain is slow to answer',
  'just after its write',
] as const
type Phase = (typeof PHASES)[number]

t.setTimeout(240_000)

t.test('the lock holder SIGKILLed during refreshes, 20 times', { skip: redisMissing() }, async (t) => {
  const fleet = await Fleet.start(t, { lifetimeS: LIFETIME_S, config: { token: { idpTimeoutSeconds: 5 } } })
  await fleet.spawnAll(REPLICAS)
  const idOfPid = new Map<number, string>()
  const remember = (): void => {
    for (const r of fleet.replicas) idOfPid.set(r.proxy.pid, r.id)
  }
  remember()
  const problems: string[] = []
  let stopLoad = false
  const loadDone = (async () => {
    const tallies = []
    while (!stopLoad) {
      tallies.push(
        await runLoad(fleet, {
          durationMs: 1_000,
          loops: 1,
          pauseMs: 50,
          // an answer cut off by the kill of the replica that was answering is the kill, not a failure
          counts: (r: Replica, a) => !(a.status === 0 && !r.alive),
        }),
      )
    }
    return tallies
  })()

  const byPhase = new Map<Phase, number>()
  for (let round = 0; round < KILLS; round++) {
    const phase = PHASES[round % PHASES.length] as Phase
    const victim = await killHolder(fleet, phase)
    byPhase.set(phase, (byPhase.get(phase) ?? 0) + 1)
    // the dead holder's lock would block refreshes until its TTL (30 s) runs out: let that time pass at once
    expireDeadLock(fleet)
    const writesBefore = fleet.watch.writes().length
    const restarted = await fleet.spawn(victim.index)
    remember()
    const outcome = await serveUntilOk(restarted, 15_000)
    if (outcome !== 'ok') problems.push(`round ${round + 1}: the restarted replica answers ${outcome}`)
    // the fleet goes on refreshing after the kill
    await waitFor(() => fleet.watch.writes().length > writesBefore, 15_000, `a refresh after kill ${round + 1}`).catch(
      () => problems.push(`round ${round + 1}: no refresh was stored after the kill`),
    )
  }
  stopLoad = true
  const tallies = await loadDone
  const exits = await fleet.stopAll()
  const stats = fleet.sim.stats()

  const versions = fleet.watch.writes().map((w) => w.version)
  const forks = versions.filter((v, i) => i > 0 && v !== (versions[i - 1] as number) + 1)
  const windows = measureWindows(fleet.tap.exchanges, fleet.watch.writes(), idOfPid)
  const total = tallies.reduce((n, x) => n + x.total, 0)
  const ok = tallies.reduce((n, x) => n + x.ok(), 0)
  const failures = tallies.flatMap((x) =>
    x.failures.map((f) => `${f.replica}: ${f.answer.status} ${f.answer.code ?? f.answer.transport}`),
  )
  report(
    t,
    `fleet kills: ${KILLS} SIGKILLs of the lock holder (${[...byPhase].map(([p, n]) => `${n} ${p}`).join(', ')}), ` +
      `${stats.refreshGrants} refreshes, ${stats.staleRefreshTokenUses} stale refresh tokens, ${ok}/${total} requests 200, ` +
      `versions 1..${versions[versions.length - 1]} without a gap`,
  )
  report(
    t,
    `fleet crash window (identity domain's answer sent -> write announced, measured outside): median ` +
      `${quantile(windows, 0.5).toFixed(1)} ms, p90 ${quantile(windows, 0.9).toFixed(1)} ms, max ` +
      `${quantile(windows, 1).toFixed(1)} ms over ${windows.length} rotations`,
  )

  t.same(problems, [], 'every restart served and the fleet refreshed after every kill')
  t.equal(stats.staleRefreshTokenUses, 0, 'no stale refresh token was ever presented')
  t.equal(stats.oacExpiredTokenRequests, 0, 'no expired token was forwarded')
  t.same(forks, [], 'every stored version is the previous one + 1: no fork of the rotation chain')
  t.same(failures.slice(0, 5), [], `every request to a live replica succeeded (${ok}/${total})`)
  t.ok(total > 200, `the load ran (${total} requests)`)
  t.ok(windows.length >= KILLS, `rotations measured (${windows.length})`)
  t.ok(quantile(windows, 0.5) < 50, 'the window between the answer and the write is milliseconds (median under 50 ms)')
  t.same(exits, Array(REPLICAS).fill(0), 'every replica stops cleanly on SIGTERM')
})

/** Waits for the next token request of a live replica (the lock holder) and kills that replica at `phase`. */
async function killHolder(fleet: Fleet, phase: Phase): Promise<Replica> {
  return new Promise<Replica>((resolve, reject) => {
    const timer = setTimeout(() => {
      fleet.tap.onArrival = undefined
      reject(new Error(`no token request to kill in (${phase})`))
    }, 20_000)
    fleet.tap.onArrival = async (exchange: TapExchange) => {
      const holder = fleet.byPid(exchange.pid)
      if (!holder) return
      fleet.tap.onArrival = undefined
      clearTimeout(timer)
      if (phase === 'as its token request arrives') {
        await fleet.kill(holder)
      } else if (phase === 'while the identity domain is slow to answer') {
        await sleep(50 + Math.random() * 300)
        await fleet.kill(holder)
      } else {
        const writes = fleet.watch.writes().length
        void waitFor(() => fleet.watch.writes().length > writes, 10_000, 'the holder to write')
          .then(() => fleet.kill(holder))
          .then(() => resolve(holder), reject)
        return
      }
      // the request is forwarded only if its sender is still connected: let the tap see the connection close
      await waitFor(() => exchange.gone(), 5_000, "the killed holder's connection to close").catch(() => {})
      resolve(holder)
    }
  })
}

/**
 * Expires the lock left by the replica just killed (read right after the kill; nobody else can hold it yet): the
 * stand-in for its TTL running out, compare-and-expire so that a lock another replica took meanwhile is left alone.
 */
function expireDeadLock(fleet: Fleet): void {
  const keys = fleet.redis.cli('--raw', 'KEYS', `${fleet.keyPrefix}:*:lock`).split('\n').filter(Boolean)
  for (const key of keys) {
    const owner = fleet.redis.cli('--raw', 'GET', key)
    if (!owner) continue
    const script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], 1) end return 0"
    fleet.redis.cli('EVAL', script, '1', key, owner)
  }
}

/** Per rotation: ms from the tap handing the answer to the replica to the write announcement of that replica. */
function measureWindows(
  exchanges: TapExchange[],
  writes: Array<{ writer: string; at: number }>,
  idOfPid: Map<number, string>,
): number[] {
  const out: number[] = []
  for (const e of exchanges) {
    if (!e.rotated || e.answeredAt === undefined || e.pid === undefined) continue
    const id = idOfPid.get(e.pid)
    const answeredAt = e.answeredAt
    const w = writes.find((x) => x.writer === id && x.at >= answeredAt && x.at - answeredAt < 5_000)
    if (w) out.push(w.at - answeredAt)
  }
  return out
}
