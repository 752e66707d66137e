// Fleet bench: 1, 10, 50 and 200 replicas sharing one grant through one Redis (in-process replicas, each with its own
// Redis connections and refresher), against the simulator's rotating IDCS. Prints identity-domain calls per cycle with
// and without the shared store, Redis commands per replica per cycle, the time from a refresh to the last replica
// adopting it (p50/p99), and memory per replica. Usage: npm run bench:fleet [-- --sizes 1,10,50,200 --cycles 10]
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { Agent } from 'undici'
import pino from 'pino'
import { freePort } from './proc.mjs'

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '1,10,50,200' }, cycles: { type: 'string', default: '10' } },
})
const SIZES = values.sizes.split(',').map(Number)
const CYCLES = Number(values.cycles)
const LIFETIME_S = 100

const { startSimulator } = await import('../dist/simulator/index.js')
const { FleetRefresher } = await import('../dist/token/fleet.js')
const { RedisTokenStore, StateCipher, keyFromBytes } = await import('../dist/token/store/redis/index.js')
const { refreshTokenGrant } = await import('../dist/oauth/grants/refresh-token.js')
const { Secret } = await import('../dist/shared/secret.js')
const { systemClock } = await import('../dist/shared/clock.js')

async function startRedis() {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'oac-bench-redis-'))
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--maxclients',
      '10000',
    ],
    { stdio: 'ignore' },
  )
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'PING'], { stdio: 'pipe' })
      break
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    commands() {
      const info = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8' })
      let total = 0
      for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (m[1] !== 'info') total += Number(m[2])
      return total
    },
    async stop() {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

const log = pino({ level: 'silent' })
const identity = { identityDomainUrl: 'https://idcs-bench.example.com', clientId: 'bench', credentialName: 'default' }

async function runSize(n, sim, redis) {
  const endpoint = {
    idcsUrl: sim.idcsUrl,
    clientAuth: {
      method: 'client_secret_basic',
      clientId: sim.clientId,
      clientSecret: new Secret(sim.clientSecret, 'bench'),
    },
    timeoutMs: 10_000,
    dispatcher: new Agent(),
  }
  const cipher = new StateCipher(keyFromBytes(randomBytes(32)))
  const keyPrefix = `bench-${n}-${randomBytes(3).toString('hex')}`
  let cycleStartMs = 0
  const heapNow = async () => {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r))
      globalThis.gc?.()
    }
    const m = process.memoryUsage()
    return m.heapUsed + m.external
  }
  const heapBefore = await heapNow()
  const replicas = []
  for (let i = 0; i < n; i++) {
    const store = await RedisTokenStore.open({
      connection: { url: redis.url, commandTimeoutMs: 5_000, connectTimeoutMs: 5_000 },
      cipher,
      keyPrefix,
      replicaId: `r${i}`,
    })
    const adopted = []
    const refresher = new FleetRefresher({
      store: store.credential(identity),
      grant: refreshTokenGrant(endpoint),
      log,
      clock: systemClock,
      lifetimeOf: (set) => set.expiresInS * 1000,
      // a token from an earlier cycle counts as due: each cycle is one refresh for the fleet
      fresh: (_expiresAtMs, obtainedAtMs) => (obtainedAtMs ?? 0) >= cycleStartMs,
      lockWaitMs: 30_000,
    })
    await refresher.follow((a) => adopted.push({ version: a.version, at: performance.now() }))
    replicas.push({ store, refresher, adopted })
  }
  const heapPerReplica = ((await heapNow()) - heapBefore) / n
  replicas[0].refresher.hold(1, { refreshToken: sim.issueRefreshToken() })
  await replicas[0].refresher.read()

  const callsBefore = sim.stats().tokenCalls
  const commandsBefore = redis.commands()
  const lastAdopt = []
  const herdMs = []
  for (let c = 0; c < CYCLES; c++) {
    cycleStartMs = Date.now()
    const writer = replicas[c % n]
    const result = await writer.refresher.refresh()
    const writtenAt = performance.now()
    const version = result.version
    // the others learn it from the announcement; wait until all have it
    const others = replicas.filter((r) => r !== writer)
    const deadline = Date.now() + 10_000
    while (others.some((r) => !r.adopted.some((a) => a.version >= version)) && Date.now() < deadline) {
      await new Promise((r) => setImmediate(r))
    }
    if (others.length > 0) {
      const last = Math.max(...others.map((r) => r.adopted.find((a) => a.version >= version)?.at ?? Infinity))
      lastAdopt.push(last - writtenAt)
    }
  }
  // a herd: every replica finds its token due at the same moment
  for (let h = 0; h < 3; h++) {
    cycleStartMs = Date.now()
    const t0 = performance.now()
    await Promise.all(replicas.map((r) => r.refresher.refresh()))
    herdMs.push(performance.now() - t0)
  }
  const cycles = CYCLES + 3
  const idpPerCycle = (sim.stats().tokenCalls - callsBefore) / cycles
  const commandsPerReplicaCycle = (redis.commands() - commandsBefore) / (n * cycles)
  const stale = sim.stats().staleRefreshTokenUses
  for (const r of replicas) {
    await r.refresher.stop()
    await r.store.close()
  }
  await endpoint.dispatcher.close()
  lastAdopt.sort((a, b) => a - b)
  herdMs.sort((a, b) => a - b)
  return { n, idpPerCycle, commandsPerReplicaCycle, lastAdopt, herdMs, heapPerReplica, stale }
}

const sim = await startSimulator({ accessTokenLifetimeS: LIFETIME_S })
const redis = await startRedis()
const rows = []
try {
  // warm-up: loads every module and opens the first connections, so memory per replica counts replicas only
  await runSize(1, sim, redis)
  for (const n of SIZES) rows.push(await runSize(n, sim, redis))
} finally {
  await redis.stop()
  await sim.close()
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-')
console.log(
  `# Fleet: one grant, one Redis, ${CYCLES} announced cycles + 3 herd cycles per size (Node ${process.version})`,
)
console.log('')
console.log(
  '| replicas | IdP calls/cycle (shared store) | IdP calls/cycle (no store) | Redis cmds/replica/cycle | last adoption p50 ms | last adoption p99 ms | herd p50 ms | heap/replica KB | stale RT uses |',
)
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  console.log(
    `| ${r.n} | ${fmt(r.idpPerCycle, 2)} | ${r.n} | ${fmt(r.commandsPerReplicaCycle)} | ${fmt(percentile(r.lastAdopt, 50))} | ${fmt(percentile(r.lastAdopt, 99))} | ${fmt(percentile(r.herdMs, 50))} | ${fmt(r.heapPerReplica / 1024, 0)} | ${r.stale} |`,
  )
}
console.log('')
console.log(
  '"no store": each replica keeps its own state, so every replica calls the identity domain each cycle (and with a rotating refresh token they revoke each other). Last adoption: from the writer\'s stored write to the last other replica holding the new token (pub/sub). Herd: every replica due at once; one calls, the others wait for the lock and adopt. Heap/replica: JS heap and buffers of one replica\'s store, connections and refresher (a replica process adds the proxy itself; see the footprint bench).',
)
