// `migrate`: the state file into the shared store and back, never replacing a newer state unless forced.
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { claimCredential } from '../../src/app/managers.js'
import type { Simulator } from '../../src/simulator/index.js'
import { FileStore } from '../../src/token/store/file.js'
import { runCli, simulatorFor, tempFolder, type CliResult } from '../helpers/cli-run.js'
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.js'
import { writeStoreConfig } from '../helpers/store-config.js'

const missing = redisMissing()

interface Setup {
  sim: Simulator
  redis: RedisServer
  dir: string
  /** The CLI with the store's configuration. */
  cli(...args: string[]): Promise<CliResult>
  /** The CLI with the same configuration without its store section (the state file). */
  plain(...args: string[]): Promise<CliResult>
}

async function setup(t: Test): Promise<Setup> {
  const sim = await simulatorFor(t)
  const redis = await startRedis(t)
  const dir = tempFolder(t)
  const { configPath } = await writeStoreConfig(dir, sim, redis)
  const plain = parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>
  delete plain.store
  delete plain.refreshToken
  writeFileSync(join(dir, 'plain.yaml'), stringify(plain), { mode: 0o600 })
  return {
    sim,
    redis,
    dir,
    cli: (...args) => runCli([...args, '--config', configPath], { cwd: dir }),
    plain: (...args) => runCli([...args, '--config', join(dir, 'plain.yaml')], { cwd: dir }),
  }
}

/** A state file holding a refresh token the simulator issued. */
async function writeStateFile(s: Setup): Promise<void> {
  const config = loadConfig({ env: {}, cwd: s.dir, configPath: join(s.dir, 'plain.yaml') })
  const store = FileStore.open(config.stateFile)
  claimCredential(store, config.credentials[0] as (typeof config.credentials)[number])
  await store.save('default', { refreshToken: s.sim.issueRefreshToken(), updatedAtMs: Date.now() })
  await store.close()
}

/** Keeps only the state file's refresh token, so the next `token` on it refreshes (and rotates). */
async function dropAccessToken(s: Setup): Promise<void> {
  const store = FileStore.open(join(s.dir, 'state.json'))
  const saved = store.load('default')
  await store.save('default', {
    ...(saved?.identity ? { identity: saved.identity } : {}),
    ...(saved?.refreshToken ? { refreshToken: saved.refreshToken } : {}),
    updatedAtMs: Date.now(),
  })
  await store.close()
}

function storedVersion(redis: RedisServer): number {
  const key = redis.cli('KEYS', '*:state')
  return key ? Number(redis.cli('HGET', key, 'v')) : 0
}

t.test('migrate', { skip: missing ?? false }, async (t) => {
  t.test('the state file into Redis and back: every copy carries the newest refresh token', async (t) => {
    const s = await setup(t)
    await writeStateFile(s)
    const into = await s.cli('migrate', '--to', 'redis')
    t.equal(into.code, 0, into.stderr)
    t.match(into.stdout, /credential default: copied from the state file .* into the shared store \(store version 1\)/)
    t.equal(storedVersion(s.redis), 1)
    const again = await s.cli('migrate', '--to', 'redis')
    t.equal(again.code, 0, again.stderr)
    t.match(again.stdout, /credential default: already in the shared store/)
    t.equal(storedVersion(s.redis), 1, 'nothing written twice')
    // the fleet rotates the migrated refresh token
    t.equal((await s.cli('token')).code, 0)
    t.equal(storedVersion(s.redis), 2)
    // the store is now newer than the file: refused, nothing written
    const refused = await s.cli('migrate', '--to', 'redis')
    t.equal(refused.code, 3)
    t.match(
      refused.stderr,
      /^oac-token-proxy: migrate_target_newer: nothing was migrated: credential default: the shared store holds version 2/m,
    )
    t.match(refused.stderr, /hint: .*--force/)
    t.equal(storedVersion(s.redis), 2)
    // back into the file: the rotated refresh token works from there
    const back = await s.cli('migrate', '--to', 'file')
    t.equal(back.code, 0, back.stderr)
    t.match(back.stdout, /credential default: copied from the shared store into the state file .* \(store version 2\)/)
    await dropAccessToken(s)
    const served = await s.plain('token', '--json')
    t.equal(served.code, 0, served.stderr)
    t.match(served.stdout, /"source":"refresh"/, 'the file rotated the refresh token it got from the store')
    // the file rotated on its own: it is newer now, so migrating the store over it is refused
    const stale = await s.cli('migrate', '--to', 'file')
    t.equal(stale.code, 3)
    t.match(
      stale.stderr,
      /migrate_target_newer: .*the state file's entry .* is newer than the shared store's version 2/,
    )
    // and the newer file goes back into the store, where it refreshes
    t.equal((await s.cli('migrate', '--to', 'redis')).code, 0)
    t.equal(storedVersion(s.redis), 3)
    t.equal(s.sim.stats().staleRefreshTokenUses, 0, 'no copy ever presented an outdated refresh token')
    for (const r of [into, again, refused, back, stale]) t.notMatch(r.stdout + r.stderr, /rt-|eyJ/)
  })

  t.test('--force replaces a newer state in the target', async (t) => {
    const s = await setup(t)
    await writeStateFile(s)
    t.equal((await s.cli('migrate', '--to', 'redis')).code, 0)
    t.equal((await s.cli('token')).code, 0)
    const forced = await s.cli('migrate', '--to', 'redis', '--force')
    t.equal(forced.code, 0, forced.stderr)
    t.equal(storedVersion(s.redis), 3)
  })

  t.test('bad input: a clear usage error, exit 2', async (t) => {
    const s = await setup(t)
    const none = await s.cli('migrate')
    t.equal(none.code, 2)
    t.match(none.stderr, /usage: migrate needs --to redis or --to file/)
    const wrong = await s.cli('migrate', '--to', 'postgres')
    t.equal(wrong.code, 2)
    t.match(wrong.stderr, /--to must be redis or file, got 'postgres'/)
    const noStore = await s.plain('migrate', '--to', 'redis')
    t.equal(noStore.code, 2)
    t.match(noStore.stderr, /migrate needs the shared store .*store\.url or store\.sentinel/)
    const unknown = await s.cli('migrate', '--to', 'redis', '--credential', 'nope')
    t.equal(unknown.code, 2)
    t.match(unknown.stderr, /no credential named 'nope'/)
    t.equal(storedVersion(s.redis), 0)
  })
})
