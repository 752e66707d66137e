// The commands on a shared store facing a bad store: Redis down, another key, a missing ACL permission, a busy lock.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Simulator } from '../../src/simulator/index.js'
import { registerSecret, writeSimConfig } from '../helpers.js'
import { selfSigned } from '../oauth/grants/keys.js'
import { runCli, simulatorFor, tempFolder, type CliResult } from '../helpers/cli-run.js'
import { redisMissing, startRedis, type RedisServer, type RedisServerOptions } from '../helpers/redis-server.js'

const missing = redisMissing()

interface Setup {
  sim: Simulator
  redis: RedisServer
  dir: string
  cli(...args: string[]): Promise<CliResult>
}

async function setup(t: Test, store: Record<string, unknown> = {}, server: RedisServerOptions = {}): Promise<Setup> {
  const sim = await simulatorFor(t)
  const redis = await startRedis(t, server)
  const dir = tempFolder(t)
  const key = randomBytes(32).toString('base64')
  registerSecret(key)
  writeFileSync(join(dir, 'store.key'), key, { mode: 0o600 })
  const configPath = await writeSimConfig(dir, sim, {
    store: { url: redis.url, encryptionKey: { file: 'store.key' }, connectTimeoutSeconds: 0.5, ...store },
  })
  return { sim, redis, dir, cli: (...args) => runCli([...args, '--config', configPath], { cwd: dir }) }
}

t.test('a bad store', { skip: missing ?? false }, async (t) => {
  t.test('Redis down: every command names the store and the check, and changes nothing', async (t) => {
    const s = await setup(t)
    await s.redis.stop()
    writeFileSync(join(s.dir, 'tokens.json'), JSON.stringify({ refresh_token: s.sim.issueRefreshToken() }))
    for (const args of [['status'], ['token'], ['import', 'tokens.json'], ['migrate', '--to', 'redis']]) {
      const r = await s.cli(...args)
      t.equal(r.code, 1, args.join(' '))
      t.match(r.stderr, /^oac-token-proxy: store_unavailable: Redis store .* failed at redis:\/\/127\.0\.0\.1:\d+/m)
      t.match(r.stderr, /hint: nothing was changed; check that Redis runs .*doctor names the fix/)
      t.equal(r.stdout, '')
    }
    t.equal(s.sim.stats().tokenCalls, 0)
  })

  t.test('another encryption key: store_state_unreadable, and the key to configure', async (t) => {
    const s = await setup(t)
    t.equal((await s.cli('token')).code, 0)
    const other = randomBytes(32).toString('base64')
    registerSecret(other)
    writeFileSync(join(s.dir, 'store.key'), other, { mode: 0o600 })
    for (const args of [['token'], ['status'], ['migrate', '--to', 'file']]) {
      const r = await s.cli(...args)
      t.equal(r.code, 1, args.join(' '))
      t.match(
        r.stderr,
        /^oac-token-proxy: store_state_unreadable: the stored state was encrypted with key \S+, which is not configured/m,
      )
      t.match(r.stderr, /hint: .*store\.previousEncryptionKey/)
      t.notMatch(r.stderr + r.stdout, other)
    }
    t.equal(s.sim.stats().tokenCalls, 1, 'nothing refreshed with the unreadable state')
  })

  t.test('an ACL user without the store keys: doctor names the ACL fix', async (t) => {
    registerSecret('acl-pass-for-test')
    const s = await setup(
      t,
      { username: 'proxy', password: { env: 'REDIS_PASSWORD' } },
      { users: [{ name: 'proxy', password: 'acl-pass-for-test', rules: '~elsewhere:* +@all' }], noDefaultUser: true },
    )
    const r = await runCli(['doctor', '--config', join(s.dir, 'config.yaml')], {
      cwd: s.dir,
      env: { REDIS_PASSWORD: 'acl-pass-for-test' },
    })
    t.equal(r.code, 1)
    t.match(r.stdout, /\[FAIL\] store (connection|state default): store_refused: .*NOPERM.*fix: .*ACL SETUSER/)
    t.notMatch(r.stdout + r.stderr, /acl-pass-for-test/)
  })

  t.test('token: a lock another replica holds is waited for, never bypassed', async (t) => {
    const s = await setup(t, { lockWaitSeconds: 1 })
    // a refresh token without an access token: the next token call must refresh
    writeFileSync(join(s.dir, 'tokens.json'), JSON.stringify({ refresh_token: s.sim.issueRefreshToken() }))
    t.equal((await s.cli('import', 'tokens.json')).code, 0)
    const lock = s.redis.cli('KEYS', '*:state').replace(/:state$/, ':lock')
    s.redis.cli('SET', lock, 'another-replica', 'PX', '60000')
    const busy = await s.cli('token')
    t.equal(busy.code, 1)
    t.match(busy.stderr, /^oac-token-proxy: store_busy: /m)
    t.equal(s.sim.stats().tokenCalls, 0, 'no refresh outside the lock')
    s.redis.cli('DEL', lock)
    const r = await s.cli('token', '--json')
    t.equal(r.code, 0, r.stderr)
    t.equal(s.sim.stats().tokenCalls, 1)
  })

  t.test('doctor on rediss://: an untrusted certificate names tls.caFile; with it, TLS is verified', async (t) => {
    const cert = selfSigned(tempFolder(t), '127.0.0.1')
    if (!cert) return t.comment('openssl not available')
    const s = await setup(t, {}, { tls: { certPath: cert.certPath, keyPath: cert.keyPath } })
    const untrusted = await s.cli('doctor')
    t.equal(untrusted.code, 1)
    t.match(
      untrusted.stdout,
      /\[FAIL\] store connection: store_refused: .*TLS certificate not trusted.*fix: .*tls\.caFile/,
    )
    const configPath = join(s.dir, 'trusted.yaml')
    writeFileSync(configPath, readFileSync(join(s.dir, 'config.yaml'), 'utf8') + `tls:\n  caFile: ${cert.certPath}\n`)
    const trusted = await runCli(['doctor', '--config', configPath], { cwd: s.dir })
    t.match(trusted.stdout, /\[ok {2}\] store connection: PING answered by rediss:\/\/127\.0\.0\.1:\d+/)
    t.match(trusted.stdout, /\[ok {2}\] store TLS: rediss:\/\/: the certificate was verified against tls\.caFile/)
  })
})
