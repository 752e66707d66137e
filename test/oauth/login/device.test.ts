// Device-code login (login() with method 'device'): polling on an injected clock, IdP answers, what is stored and shown.
import t, { type Test } from 'tap'
import { tmpdir } from 'node:os'
import { FakeClock } from '../../../src/shared/clock.js'
import { loadConfig } from '../../../src/config/load.js'
import type { ProxyConfig } from '../../../src/config/types.js'
import { login, type LoginResult } from '../../../src/cli/login.js'
import { SIM_AUDIENCE, startSimulator } from '../../../src/simulator/index.js'
import type { Simulator, SimulatorOptions } from '../../../src/simulator/index.js'
import { MemoryStore } from '../../../src/token/store/memory.js'
import { LogCapture, recordingDispatcher, simEnv, waitFor } from '../../helpers.js'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const TOKEN_PATH = '/oauth2/v1/token'
const ONLINE_SCOPE = SIM_AUDIENCE + 'urn:opc:resource:consumer::all'
const POLL_MS = 5000

interface DeviceLogin {
  sim: Simulator
  clock: FakeClock
  store: MemoryStore
  logs: LogCapture
  out: string[]
  /** Form bodies the client sent to the identity provider. */
  sent: string[]
  promise: Promise<LoginResult>
  done: () => boolean
  /** Token endpoint calls (polls) so far. */
  polls: () => Array<{ atMs: number; status: number; grantType: string | undefined }>
  startedAtMs: number
}

interface Setup {
  sim?: SimulatorOptions
  env?: (sim: Simulator) => Record<string, string>
  credential?: string
}

function configFor(sim: Simulator, env: Record<string, string> = {}): ProxyConfig {
  return loadConfig({
    env: { ...simEnv(sim, tmpdir()), ...env },
    cwd: tmpdir(),
  })
}

/** Starts a device login against a simulator on a shared FakeClock; resolves once the client waits for its first poll. */
async function startDeviceLogin(t: Test, setup: Setup = {}): Promise<DeviceLogin> {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock, ...setup.sim })
  t.teardown(() => sim.close())
  const config = configFor(sim, setup.env?.(sim))
  const store = new MemoryStore()
  const logs = new LogCapture()
  const out: string[] = []
  const sent: string[] = []
  let settled = false
  const startedAtMs = clock.now()
  const promise = login(config, {
    credential: setup.credential ?? 'default',
    method: 'device',
    store,
    logger: logs.logger(),
    out: (line) => out.push(line),
    interactive: false,
    clock,
    idpDispatcher: recordingDispatcher(t, sent),
  })
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  await waitFor(() => sim.deviceRequests().length === 1 && clock.pendingTimers === 1, 5000, 'the device request')
  return {
    sim,
    clock,
    store,
    logs,
    out,
    sent,
    promise,
    done: () => settled,
    polls: () =>
      sim.calls
        .filter((c) => c.path === TOKEN_PATH)
        .map((c) => ({ atMs: c.atMs - startedAtMs, status: c.status, grantType: c.grantType })),
    startedAtMs,
  }
}

/** Moves the clock, then waits until any poll that fell due was answered and the client waits again or is done. */
async function advance(d: DeviceLogin, ms: number): Promise<void> {
  await d.clock.advance(ms)
  await waitFor(() => d.clock.pendingTimers === 1 || d.done(), 5000, 'the client to handle the poll')
}

/** Advances one poll interval at a time until the login settles (at most `maxPolls`). */
async function pollUntilDone(d: DeviceLogin, maxPolls = 20): Promise<void> {
  for (let i = 0; i < maxPolls && !d.done(); i++) await advance(d, POLL_MS)
}

const userCodeOf = (d: DeviceLogin): string => d.sim.deviceRequests()[0]?.userCode as string

t.test('approved: the refresh token and subject are stored for the credential', async (t) => {
  const d = await startDeviceLogin(t)
  d.sim.approveDevice(userCodeOf(d))
  await pollUntilDone(d)
  t.same(await d.promise, { subject: d.sim.user, credential: 'default' })
  const saved = d.store.load('default')
  const refreshToken = d.sim.issued.refreshTokens.at(-1)
  t.ok(refreshToken, 'the simulator issued a refresh token')
  const receivedAtMs = d.startedAtMs + POLL_MS
  t.same(saved, {
    refreshToken,
    refreshTokenObtainedAtMs: receivedAtMs,
    updatedAtMs: receivedAtMs,
    subject: d.sim.user,
    // the sign-in's own access token, so the proxy starts without rotating again
    accessToken: d.sim.issued.accessTokens.at(-1),
    accessTokenObtainedAtMs: receivedAtMs,
    accessTokenExpiresAtMs: receivedAtMs + 100_000,
  })
  t.equal(d.store.saves, 1)
  t.same([...d.store.data.keys()], ['default'])
  t.same(
    d.polls().map((p) => [p.status, p.grantType]),
    [[200, DEVICE_GRANT]],
  )
  t.equal(d.logs.events('login.succeeded').length, 1)
})

t.test('the device request asks for offline_access even when the configured scope lacks it', async (t) => {
  const d = await startDeviceLogin(t, { env: () => ({ OAC_PROXY_SCOPE: ONLINE_SCOPE }) })
  t.equal(d.sim.deviceRequests()[0]?.scope, `${ONLINE_SCOPE} offline_access`)
  d.sim.approveDevice(userCodeOf(d))
  await pollUntilDone(d)
  await d.promise
  t.ok(d.store.load('default')?.refreshToken, 'a refresh token was issued and stored')
})

t.test('a public client (client id only) signs in', async (t) => {
  const d = await startDeviceLogin(t, {
    env: (sim) => ({ OAC_PROXY_CLIENT_ID: sim.publicClientId, OAC_PROXY_CLIENT_SECRET: '' }),
  })
  t.equal(d.sim.deviceRequests()[0]?.clientId, d.sim.publicClientId)
  d.sim.approveDevice(userCodeOf(d))
  await pollUntilDone(d)
  t.same(await d.promise, { subject: d.sim.user, credential: 'default' })
  t.equal(d.store.load('default')?.refreshToken, d.sim.issued.refreshTokens.at(-1))
  t.same(
    d.sim.calls.map((c) => [c.path, c.status, c.clientAuth]),
    [
      ['/oauth2/v1/device', 200, 'none'],
      [TOKEN_PATH, 200, 'none'],
    ],
  )
})

t.test('without approval the client polls exactly once per 5 s', async (t) => {
  const d = await startDeviceLogin(t)
  d.promise.catch(() => {})
  t.equal(d.polls().length, 0, 'no poll before the first interval')
  await advance(d, POLL_MS - 1)
  t.equal(d.polls().length, 0, 'none just before 5 s')
  await advance(d, 1)
  t.equal(d.polls().length, 1)
  for (let i = 0; i < 3; i++) await advance(d, POLL_MS)
  t.same(d.polls(), [
    { atMs: 5000, status: 400, grantType: DEVICE_GRANT },
    { atMs: 10_000, status: 400, grantType: DEVICE_GRANT },
    { atMs: 15_000, status: 400, grantType: DEVICE_GRANT },
    { atMs: 20_000, status: 400, grantType: DEVICE_GRANT },
  ])
  t.equal(d.done(), false, 'still waiting')
})

t.test('slow_down makes the next poll come 10 s later instead of 5', async (t) => {
  const d = await startDeviceLogin(t)
  d.promise.catch(() => {})
  await advance(d, POLL_MS)
  d.sim.faults.idcs.next({ kind: 'status', status: 400, body: JSON.stringify({ error: 'slow_down' }) })
  await advance(d, POLL_MS)
  await advance(d, POLL_MS)
  t.equal(d.polls().length, 2, 'no poll 5 s after slow_down')
  await advance(d, POLL_MS)
  t.same(
    d.polls().map((p) => [p.atMs, p.status]),
    [
      [5000, 400],
      [10_000, 400],
      [20_000, 400],
    ],
  )
  t.equal(d.done(), false, 'still waiting')
})

t.test('a device code that expires rejects with login_expired', async (t) => {
  const d = await startDeviceLogin(t, { sim: { deviceCodeLifetimeS: 30 } })
  await pollUntilDone(d)
  await t.rejects(d.promise, { code: 'login_expired' })
  t.equal(d.sim.deviceRequests()[0]?.status, 'expired')
  t.equal(d.polls().length, 6, 'polled at 5, 10, ... 30 s')
  t.equal(d.store.saves, 0)
})

t.test('a denied request rejects with login_denied', async (t) => {
  const d = await startDeviceLogin(t)
  d.sim.denyDevice(userCodeOf(d))
  await pollUntilDone(d)
  await t.rejects(d.promise, { code: 'login_denied' })
  t.equal(d.polls().length, 1)
  t.equal(d.store.saves, 0)
})

t.test('tokens without a refresh token reject with no_refresh_token naming offline_access', async (t) => {
  const d = await startDeviceLogin(t)
  const accessToken = await d.sim.issueAccessToken()
  d.sim.faults.idcs.next({
    kind: 'status',
    status: 200,
    body: JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: 100 }),
  })
  await pollUntilDone(d)
  await t.rejects(d.promise, { code: 'no_refresh_token', hint: /offline_access/ })
  t.equal(d.store.saves, 0)
})

t.test('without a terminal the user code is logged as login.device_code and printed', async (t) => {
  const d = await startDeviceLogin(t)
  d.promise.catch(() => {})
  const userCode = userCodeOf(d)
  const verificationUri = d.sim.idcsUrl + '/ui/v1/device'
  const logged = d.logs.events('login.device_code')
  t.equal(logged.length, 1)
  t.match(logged[0], { level: 'warn', userCode, verificationUri, expiresInS: 600 })
  t.equal(d.out.length, 1)
  t.match(d.out[0], userCode)
  t.match(d.out[0], verificationUri)
})

t.test('the device code never appears in the output or the log', async (t) => {
  const d = await startDeviceLogin(t)
  d.sim.approveDevice(userCodeOf(d))
  await pollUntilDone(d)
  await d.promise
  const poll = d.sent.map((body) => new URLSearchParams(body)).find((f) => f.get('grant_type') === DEVICE_GRANT)
  const deviceCode = poll?.get('device_code') ?? ''
  t.match(deviceCode, /^[A-Za-z0-9_-]{43}$/, 'the device code the client polled with')
  t.ok(d.logs.lines.length > 0, 'something was logged')
  t.equal(d.logs.text().includes(deviceCode), false, 'not in the log')
  t.equal(d.out.join('\n').includes(deviceCode), false, 'not in the output')
})

t.test('a credential whose grant needs no login is refused with usage', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const grants: Array<Record<string, string>> = [
    { OAC_PROXY_GRANT: 'client_credentials' },
    { OAC_PROXY_GRANT: 'password', OAC_PROXY_USERNAME: sim.user, OAC_PROXY_PASSWORD: 'Welcome-1234!' },
  ]
  for (const env of grants) {
    const store = new MemoryStore()
    const options = { credential: 'default', method: 'device' as const, store, interactive: false }
    const logger = new LogCapture().logger()
    await t.rejects(
      login(configFor(sim, env), { ...options, logger, out: () => {} }),
      { code: 'usage' },
      env.OAC_PROXY_GRANT,
    )
    t.equal(store.saves, 0)
  }
  t.equal(sim.calls.length, 0, 'the identity provider was not asked')
})

t.test('an unknown credential name is refused with usage', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const store = new MemoryStore()
  await t.rejects(
    login(configFor(sim), {
      credential: 'nope',
      method: 'device',
      store,
      logger: new LogCapture().logger(),
      out: () => {},
      interactive: false,
    }),
    { code: 'usage' },
  )
  t.equal(sim.calls.length, 0)
  t.equal(store.saves, 0)
})
