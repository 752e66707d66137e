// importTokens(): tokens.json and tokens.tok into the store, refusals, and a proxy serving an imported access token.
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { request } from 'undici'
import { FakeClock } from '../../src/shared/clock.js'
import { loadConfig } from '../../src/config/load.js'
import { importTokens } from '../../src/cli/login.js'
import { startProxy } from '../../src/app/run.js'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import { LogCapture, leaks, secretsOf, simEnv } from '../helpers.js'

const SNAPSHOTS = '/api/20210901/snapshots'

async function setup(t: Test): Promise<{ sim: Simulator; clock: FakeClock; store: MemoryStore; dir: string }> {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock })
  t.teardown(() => sim.close())
  const dir = mkdtempSync(join(tmpdir(), 'oac-token-proxy-import-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return { sim, clock, store: new MemoryStore(), dir }
}

function writeJson(dir: string, name: string, value: unknown): string {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify(value), { mode: 0o600 })
  return path
}

const expiryOf = (jwt: string): number => (decodeJwt(jwt).exp as number) * 1000

t.test('tokens.json: its refresh token is stored, with the subject of its access token', async (t) => {
  const { sim, clock, store, dir } = await setup(t)
  const refreshToken = sim.issueRefreshToken()
  const file = writeJson(dir, 'tokens.json', {
    access_token: await sim.issueAccessToken(),
    refresh_token: refreshToken,
  })
  t.same(await importTokens(file, 'default', store, clock), { kind: 'refresh_token' })
  t.same(store.load('default'), {
    refreshToken,
    refreshTokenObtainedAtMs: clock.now(),
    updatedAtMs: clock.now(),
    subject: sim.user,
  })
  t.equal(store.saves, 1)
})

t.test('tokens.tok: the access token is stored with its expiry', async (t) => {
  const { sim, clock, store, dir } = await setup(t)
  const accessToken = await sim.issueAccessToken()
  const file = writeJson(dir, 'tokens.tok', { app_access_token: accessToken })
  const expiresAtMs = expiryOf(accessToken)
  t.equal(expiresAtMs, clock.now() + 100_000, 'the simulator issues 100 s tokens')
  t.same(await importTokens(file, 'default', store, clock), { kind: 'access_token', expiresAtMs })
  t.same(store.load('default'), {
    importedAccessToken: accessToken,
    importedAccessTokenExpiresAtMs: expiresAtMs,
    updatedAtMs: clock.now(),
  })
})

t.test('an expired access token is refused with login_required', async (t) => {
  const { sim, clock, store, dir } = await setup(t)
  const file = writeJson(dir, 'tokens.tok', { app_access_token: await sim.issueAccessToken() })
  await clock.advance(100_000)
  await t.rejects(importTokens(file, 'default', store, clock), { code: 'login_required' })
  t.equal(store.saves, 0)
})

t.test('a file with neither a refresh token nor an access token is refused with secret_unreadable', async (t) => {
  const { clock, store, dir } = await setup(t)
  const file = writeJson(dir, 'tokens.json', { token_type: 'Bearer', expires_in: 100 })
  await t.rejects(importTokens(file, 'default', store, clock), { code: 'secret_unreadable' })
  t.equal(store.saves, 0)
})

t.test('a file that is not JSON is refused with secret_unreadable', async (t) => {
  const { clock, store, dir } = await setup(t)
  const file = join(dir, 'tokens.json')
  writeFileSync(file, 'not json', { mode: 0o600 })
  await t.rejects(importTokens(file, 'default', store, clock), { code: 'secret_unreadable' })
  t.equal(store.saves, 0)
})

/** A proxy on a FakeClock whose store holds only an imported access token (no refresh token anywhere). */
async function importedStack(t: Test) {
  const { sim, clock, store, dir } = await setup(t)
  const file = writeJson(dir, 'tokens.tok', { app_access_token: await sim.issueAccessToken() })
  await importTokens(file, 'default', store, clock)
  const config = loadConfig({
    env: simEnv(sim, dir),
    cwd: dir,
  })
  const logs = new LogCapture()
  const proxy = await startProxy(config, { logger: logs.logger(), store, clock })
  t.teardown(() => proxy.close())
  return { sim, clock, proxy, logs }
}

t.test('a proxy holding only an imported access token serves with it and asks the IdP nothing', async (t) => {
  const { sim, proxy, logs } = await importedStack(t)
  const res = await request(proxy.url + SNAPSHOTS)
  await res.body.dump()
  t.equal(res.statusCode, 200)
  t.equal(sim.stats().tokenCalls, 0)
  t.equal(sim.stats().oacRequests, 1)
  t.same(
    sim.calls.filter((c) => c.server === 'oac').map((c) => c.tokenState),
    ['valid'],
  )
  t.equal(logs.events('token.imported_used').length, 1)
  t.same(leaks(logs.text(), secretsOf(sim)), [])
})

t.test('once the imported access token expires the proxy answers 503 login_required', async (t) => {
  const { sim, clock, proxy } = await importedStack(t)
  await clock.advance(100_000)
  const res = await request(proxy.url + SNAPSHOTS)
  t.equal(res.statusCode, 503)
  const body = (await res.body.json()) as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['error', 'hint', 'message'])
  t.equal(body.error, 'login_required')
  t.equal(sim.stats().tokenCalls, 0, 'no refresh token: nothing to ask the IdP')
  t.equal(sim.stats().oacRequests, 0, 'nothing forwarded without a token')
})
