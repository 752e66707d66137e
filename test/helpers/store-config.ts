// Test helper: a configuration on a shared store (store.url on a test redis-server, a fresh encryption key file).
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Simulator } from '../../src/simulator/index.js'
import { registerSecret, writeSimConfig } from '../helpers.js'
import type { RedisServer } from './redis-server.js'

/** Writes store.key (registered with the leak scan) and a simulator config with a store section; its path and the key. */
export async function writeStoreConfig(
  dir: string,
  sim: Simulator,
  redis: RedisServer,
  store: Record<string, unknown> = {},
): Promise<{ configPath: string; key: string }> {
  const key = randomBytes(32).toString('base64')
  registerSecret(key)
  writeFileSync(join(dir, 'store.key'), key, { mode: 0o600 })
  const configPath = await writeSimConfig(dir, sim, {
    store: { url: redis.url, encryptionKey: { file: 'store.key' }, ...store },
  })
  return { configPath, key }
}
