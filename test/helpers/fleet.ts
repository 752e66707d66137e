// Test helper: a fleet of in-process proxies sharing one login through a real redis-server (store.url).
import type { Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { stringify } from 'yaml'
import { FakeClock } from '../../src/shared/clock.js'
import { loadConfig } from '../../src/config/load.js'
import { startProxy, type RunningProxy } from '../../src/app/run.js'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import { LogCapture, registerSecret, simEnv } from '../helpers.js'
import { startRedis, type RedisServer } from './redis-server.js'

export interface Fleet {
  sim: Simulator
  redis: RedisServer
  clock: FakeClock
  proxies: RunningProxy[]
  logs: LogCapture[]
  dir: string
}

export async function startFleet(
  t: Test,
  size: number,
  extra: Record<string, unknown> = {},
  options: { noRefreshToken?: boolean } = {},
): Promise<Fleet> {
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
  const env = {
    ...simEnv(sim, dir),
    ...(options.noRefreshToken ? {} : { OAC_PROXY_REFRESH_TOKEN: sim.issueRefreshToken() }),
  }
  const proxies: RunningProxy[] = []
  const logs: LogCapture[] = []
  for (let i = 0; i < size; i++) {
    const config = loadConfig({ env, cwd: dir, configPath: join(dir, 'config.yaml') })
    const log = new LogCapture()
    const proxy = await startProxy(config, { logger: log.logger(), clock, random: () => 0 })
    t.teardown(() => proxy.close())
    if (!options.noRefreshToken) await proxy.manager.settled()
    proxies.push(proxy)
    logs.push(log)
  }
  return { sim, redis, clock, proxies, logs, dir }
}
