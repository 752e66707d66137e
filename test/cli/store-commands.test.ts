// The one-shot commands on a shared store (store.url): login, import and token write Redis, status and doctor read it.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { loadConfig } from '../../src/config/load.js'
import { startProxy, type RunningProxy } from '../../src/app/run.js'
import type { Simulator } from '../../src/simulator/index.js'
import { CLI, LogCapture, registerSecret, waitFor, writeSimConfig } from '../helpers.js'
import { runCli, simulatorFor, tempFolder, type CliResult } from '../helpers/cli-run.js'
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.js'
import { writeStoreConfig } from '../helpers/store-config.js'

const missing = redisMissing()

interface Setup {
  sim: Simulator
  redis: RedisServer
  dir: string
  configPath: string
  key: string
  cli(...args: string[]): Promise<CliResult>
}

async function setup(t: Test, store: Record<string, unknown> = {}): Promise<Setup> {
  const sim = await simulatorFor(t, { deviceIntervalS: 1 })
  const redis = await startRedis(t)
  const dir = tempFolder(t)
  const { configPath, key } = await writeStoreConfig(dir, sim, redis, store)
  return { sim, redis, dir, configPath, key, cli: (...args) => runCli([...args, '--config', configPath], { cwd: dir }) }
}

/** The stored version of the one credential (the state hash's `v`). */
function storedVersion(redis: RedisServer): number {
  const key = redis.cli('KEYS', '*:state')
  return key ? Number(redis.cli('HGET', key, 'v')) : 0
}

async function proxyOn(t: Test, s: Setup): Promise<RunningProxy> {
  const config = loadConfig({ env: {}, cwd: s.dir, configPath: s.configPath })
  const proxy = await startProxy(config, { logger: new LogCapture().logger() })
  t.teardown(() => proxy.close())
  await proxy.manager.settled()
  return proxy
}

function json(r: CliResult): Record<string, unknown> {
  return JSON.parse(r.stdout) as Record<string, unknown>
}

t.test('the commands on a shared store', { skip: missing ?? false }, async (t) => {
  t.test('token: refreshes once under the lock, then prints the stored token while it is not yet due', async (t) => {
    const s = await setup(t)
    const first = await s.cli('token', '--json')
    t.equal(first.code, 0, first.stderr)
    t.equal(json(first).source, 'refresh')
    t.equal(s.sim.stats().tokenCalls, 1)
    t.equal(storedVersion(s.redis), 1, 'the result is the store version 1')
    const second = await s.cli('token', '--json')
    t.equal(second.code, 0, second.stderr)
    t.same([json(second).source, json(second).accessToken], ['store', json(first).accessToken])
    t.equal(s.sim.stats().tokenCalls, 1, 'no second identity-domain call')
    t.equal(s.sim.stats().staleRefreshTokenUses, 0)
    const sealed = s.redis.cli('HGET', s.redis.cli('KEYS', '*:state').trim(), 'd')
    t.match(sealed, /^a256gcm\./, 'sealed at rest')
    t.notOk(sealed.includes(json(first).accessToken as string), 'the access token is not readable in Redis')
  })

  t.test('token: with Redis down a refresh_token grant fails with store_unavailable and calls nobody', async (t) => {
    const s = await setup(t, { connectTimeoutSeconds: 0.5, commandTimeoutSeconds: 0.5 })
    await s.redis.stop()
    const r = await s.cli('token')
    t.equal(r.code, 1)
    t.match(r.stderr, /^oac-token-proxy: store_unavailable: .*redis:\/\/127\.0\.0\.1:\d+/m)
    t.equal(r.stdout, '')
    t.equal(s.sim.stats().tokenCalls, 0, 'no refresh outside the lock')
  })

  t.test('login (device): stored as the next version; a running proxy serves it without a token call', async (t) => {
    const s = await setup(t)
    const proxy = await proxyOn(t, s)
    const before = proxy.manager.peek()?.value
    t.equal(storedVersion(s.redis), 1, 'the proxy stored its start-up token')
    const child = spawn(process.execPath, [CLI, 'login', '--device', '--config', s.configPath], {
      cwd: s.dir,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    await waitFor(() => /enter the code ([A-Z]{4}-[A-Z]{4})/.test(stdout), 10_000, 'the user code')
    s.sim.approveDevice((/enter the code ([A-Z]{4}-[A-Z]{4})/.exec(stdout) as RegExpExecArray)[1] as string)
    t.equal(await exited, 0, stderr)
    t.match(
      stdout,
      /saved in the shared store at redis:\/\/127\.0\.0\.1:\d+\S* \(key prefix oac-token-proxy, version 2, encrypted with key [\w-]+\)/,
    )
    t.equal(storedVersion(s.redis), 2)
    const callsAfterLogin = s.sim.stats().tokenCalls
    await waitFor(() => proxy.manager.peek()?.value !== before, 5_000, 'the proxy adopting the login')
    const res = await request(`${proxy.url}/api/20210901/snapshots`)
    await res.body.dump()
    t.equal(res.statusCode, 200)
    t.equal(s.sim.stats().tokenCalls, callsAfterLogin, 'the proxy called nobody: it adopted the announced token')
    const token = await s.cli('token', '--json')
    t.same([json(token).source, json(token).accessToken], ['store', proxy.manager.peek()?.value])
    t.equal(s.sim.stats().staleRefreshTokenUses, 0)
  })

  t.test(
    'import: a tokens.json refresh token becomes the next version; a tokens.tok access token is served',
    async (t) => {
      const s = await setup(t)
      writeFileSync(join(s.dir, 'tokens.json'), JSON.stringify({ refresh_token: s.sim.issueRefreshToken() }))
      const imported = await s.cli('import', 'tokens.json')
      t.equal(imported.code, 0, imported.stderr)
      t.match(imported.stdout, /Imported the refresh token into the shared store at .*version 1/)
      t.equal(storedVersion(s.redis), 1)
      const access = await s.sim.issueAccessToken()
      writeFileSync(join(s.dir, 'tokens.tok'), JSON.stringify({ app_access_token: access }))
      const tok = await s.cli('import', 'tokens.tok')
      t.equal(tok.code, 0, tok.stderr)
      t.equal(storedVersion(s.redis), 2)
      const token = await s.cli('token', '--json')
      t.same([json(token).source, json(token).accessToken], ['store', access])
      t.equal(s.sim.stats().tokenCalls, 0, 'nothing refreshed')
      const status = await s.cli('status', '--json')
      const cred = (json(status).credentials as Array<Record<string, unknown>>)[0]
      t.match(cred, { version: 2, refreshTokenStored: true, health: 'valid' })
    },
  )

  t.test('status: shows the store, the version, the writer and when, and no secret', async (t) => {
    const s = await setup(t)
    const empty = await s.cli('status', '--json')
    t.equal(empty.code, 7, 'no valid token stored yet')
    t.match(json(empty), { store: { kind: 'single', keyPrefix: 'oac-token-proxy', encrypted: true } })
    await s.cli('token')
    const r = await s.cli('status', '--json')
    t.equal(r.code, 0, r.stderr)
    const body = json(r)
    t.match(body.store, {
      kind: 'single',
      target: s.redis.url,
      keyPrefix: 'oac-token-proxy',
      encrypted: true,
      keyId: /\w+/,
    })
    t.match((body.credentials as unknown[])[0], { version: 1, writtenBy: /\//, updatedAtMs: Number, health: 'valid' })
    const text = await s.cli('status')
    t.match(text.stdout, /store: Redis \(single node\) at redis:\/\/127\.0\.0\.1:\d+, key prefix oac-token-proxy/)
    t.match(text.stdout, /stored state: +version 1, written by \S+ at \d{4}-/)
    for (const out of [r.stdout, text.stdout, r.stderr, text.stderr]) {
      t.notMatch(out, s.key)
      t.notMatch(out, /eyJ|rt-/)
    }
  })

  t.test('doctor: checks the store and names the fix for a wrong password and a wrong key', async (t) => {
    const s = await setup(t)
    await s.cli('token')
    const good = await s.cli('doctor')
    t.match(good.stdout, /\[ok {2}\] store connection: PING answered/)
    t.match(good.stdout, /\[ok {2}\] store state default: version 1, written by .*decrypted, holds a refresh token/)
    // another key: the stored state cannot be opened
    const other = randomBytes(32).toString('base64')
    registerSecret(other)
    writeFileSync(join(s.dir, 'store.key'), other, { mode: 0o600 })
    const wrongKey = await s.cli('doctor')
    t.equal(wrongKey.code, 1)
    t.match(
      wrongKey.stdout,
      /\[FAIL\] store state default: store_state_unreadable: .*fix: .*store\.previousEncryptionKey/,
    )
    t.notMatch(wrongKey.stdout, other)
  })

  t.test('doctor: a refused password names store.password', async (t) => {
    const sim = await simulatorFor(t)
    const redis = await startRedis(t, { password: 'right-horse-battery' })
    registerSecret('wrong-horse-battery')
    const dir = tempFolder(t)
    writeFileSync(join(dir, 'redis-password'), 'wrong-horse-battery', { mode: 0o600 })
    const configPath = await writeSimConfig(dir, sim, {
      store: { url: redis.url, password: { file: 'redis-password' }, encryption: 'none' },
    })
    const r = await runCli(['doctor', '--config', configPath], { cwd: dir })
    t.equal(r.code, 1)
    t.match(r.stdout, /\[FAIL\] store connection: store_refused: .*fix: .*store\.password/)
    t.notMatch(r.stdout + r.stderr, /horse/)
  })
})
