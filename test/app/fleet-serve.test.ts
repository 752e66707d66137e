// Two proxies sharing one login through Redis (store.url): one identity-domain call per cycle, adoption, a login stored once.
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { stringify } from 'yaml'
import { FakeClock } from '../../src/shared/clock.js'
import { loadConfig } from '../../src/config/load.js'
import { startProxy, type RunningProxy } from '../../src/app/run.js'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import { LogCapture, registerSecret, simEnv } from '../helpers.js'
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.js'

const missing = redisMissing()

interface Fleet {
  sim: Simulator
  redis: RedisServer
  clock: FakeClock
  proxies: RunningProxy[]
  logs: LogCapture[]
  dir: string
}

async function startFleet(t: Test, size: number, extra: Record<string, unknown> = {}): Promise<Fleet> {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const redis = await startRedis(t)
  const dir = mkdtempSync(join(tmpdir(), 'oac-fleet-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const key = randomBytes(32).toString('base64')
  registerSecret(key)
  writeFileSync(join(dir, 'store.key'), key, { mode: 0o600 })
  writeFileSync(
    join(dir, 'config.yaml'),
    stringify({ store: { url: redis.url, encryptionKey: { file: 'store.key' } }, ...extra }),
    { mode: 0o600 },
  )
  const env = { ...simEnv(sim, dir), OAC_PROXY_REFRESH_TOKEN: sim.issueRefreshToken() }
  const proxies: RunningProxy[] = []
  const logs: LogCapture[] = []
  for (let i = 0; i < size; i++) {
    const config = loadConfig({ env, cwd: dir, configPath: join(dir, 'config.yaml') })
    const log = new LogCapture()
    const proxy = await startProxy(config, { logger: log.logger(), clock, random: () => 0 })
    t.teardown(() => proxy.close())
    await proxy.manager.settled()
    proxies.push(proxy)
    logs.push(log)
  }
  return { sim, redis, clock, proxies, logs, dir }
}

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
    t.notMatch(fleet.redis.cli('HGET', fleet.redis.cli('KEYS', '*:state').trim(), 'd'), /rt-|eyJ/, 'sealed at rest')
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
})
