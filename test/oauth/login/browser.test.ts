// Browser login (login() with method 'browser'): PKCE authorize URL, loopback redirect, outcomes and the callback page.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { request } from 'undici'
import { FakeClock } from '../../../src/shared/clock.js'
import { loadConfig } from '../../../src/config/load.js'
import { login, type LoginResult } from '../../../src/cli/login.js'
import { startSimulator } from '../../../src/simulator/index.js'
import type { Simulator, SimulatorOptions } from '../../../src/simulator/index.js'
import { MemoryStore } from '../../../src/token/store/memory.js'
import { LogCapture, recordingDispatcher, simEnv, waitFor } from '../../helpers.js'

/** The login's own clock stands still (the browser timeout runs on real time); the simulator uses real time. */
const CLIENT_NOW_MS = Date.UTC(2026, 0, 1)

interface Page {
  status: number
  contentType: unknown
  body: string
}

interface BrowserLogin {
  sim: Simulator
  store: MemoryStore
  out: string[]
  /** Form bodies the client sent to the identity provider. */
  sent: string[]
  promise: Promise<LoginResult>
  /** Resolves with the URL the login asked the browser to open. */
  opened: Promise<string>
  /** Resolves with the callback page the "browser" got (rejects if the browser failed). */
  page: Promise<Page>
  openCalls: () => number
}

interface Setup {
  sim?: SimulatorOptions
  env?: Record<string, string>
  /** What the browser does with the authorize URL; default: follow it to the callback. */
  browser?: (url: string) => Promise<Page>
}

/** The authorize URL's query as an object. */
function query(url: string): Record<string, string> {
  return Object.fromEntries(new URL(url).searchParams)
}

/** A browser without redirects: GET the authorize URL, then GET its location (the loopback callback). */
async function follow(url: string): Promise<Page> {
  const authorize = await request(url)
  await authorize.body.dump()
  const location = authorize.headers.location
  if (authorize.statusCode !== 302 || typeof location !== 'string') {
    throw new Error(`authorize answered ${authorize.statusCode} without a redirect`)
  }
  return get(location)
}

async function get(url: string): Promise<Page> {
  const res = await request(url)
  return { status: res.statusCode, contentType: res.headers['content-type'], body: await res.body.text() }
}

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function startBrowserLogin(t: Test, setup: Setup = {}): Promise<BrowserLogin> {
  const sim = await startSimulator(setup.sim)
  t.teardown(() => sim.close())
  const config = loadConfig({
    env: { ...simEnv(sim, tmpdir()), ...setup.env },
    cwd: tmpdir(),
  })
  const store = new MemoryStore()
  const out: string[] = []
  const sent: string[] = []
  let openCalls = 0
  let markOpened: (url: string) => void = () => {}
  const opened = new Promise<string>((resolve) => (markOpened = resolve))
  const page = opened.then((url) => (setup.browser ?? follow)(url))
  page.catch(() => {})
  const promise = login(config, {
    credential: 'default',
    method: 'browser',
    store,
    logger: new LogCapture().logger(),
    out: (line) => out.push(line),
    interactive: false,
    clock: new FakeClock(CLIENT_NOW_MS),
    idpDispatcher: recordingDispatcher(t, sent),
    openUrl: async (url) => {
      openCalls++
      markOpened(url)
      return true
    },
  })
  promise.catch(() => {})
  return { sim, store, out, sent, promise, opened, page, openCalls: () => openCalls }
}

/** The loopback redirect URI of an authorize URL. */
const redirectUriOf = (url: string): URL => new URL(query(url).redirect_uri as string)

t.test('approve: resolves, stores the refresh token, the callback page says the login is complete', async (t) => {
  const b = await startBrowserLogin(t)
  t.same(await b.promise, { subject: b.sim.user, credential: 'default' })
  const page = await b.page
  t.equal(page.status, 200)
  t.match(page.contentType, /^text\/html/)
  t.match(page.body, '<title>Login complete</title>')
  t.equal(b.sim.issued.refreshTokens.length, 1)
  const { accessTokenExpiresAtMs, ...saved } = b.store.load('default') ?? {}
  t.same(saved, {
    refreshToken: b.sim.issued.refreshTokens[0],
    refreshTokenObtainedAtMs: CLIENT_NOW_MS,
    updatedAtMs: CLIENT_NOW_MS,
    subject: b.sim.user,
    // the sign-in's own access token, so the proxy starts without rotating again
    accessToken: b.sim.issued.accessTokens[0],
    accessTokenObtainedAtMs: CLIENT_NOW_MS,
  })
  t.ok(
    accessTokenExpiresAtMs !== undefined && accessTokenExpiresAtMs > CLIENT_NOW_MS,
    'with its expiry (expires_in, or the JWT exp when earlier)',
  )
  t.same(
    b.sim.calls.map((c) => [c.path, c.status, c.grantType]),
    [
      ['/oauth2/v1/authorize', 302, 'authorization_code'],
      ['/oauth2/v1/token', 200, 'authorization_code'],
    ],
  )
  t.equal(b.openCalls(), 1)
})

t.test('deny: rejects with login_denied and the page says the login failed', async (t) => {
  const b = await startBrowserLogin(t)
  b.sim.setAuthorizeBehaviour({ action: 'deny' })
  await t.rejects(b.promise, { code: 'login_denied' })
  const page = await b.page
  t.equal(page.status, 400)
  t.match(page.body, '<title>Login failed</title>')
  t.equal(b.store.saves, 0)
  t.equal(b.sim.stats().tokenCalls, 0)
})

t.test('a redirect with another state rejects with login_failed and answers 400', async (t) => {
  const b = await startBrowserLogin(t)
  b.sim.setAuthorizeBehaviour({ action: 'tamper_state' })
  await t.rejects(b.promise, { code: 'login_failed' })
  const page = await b.page
  t.equal(page.status, 400)
  t.match(page.body, '<title>Login failed</title>')
  t.equal(b.store.saves, 0)
  t.equal(b.sim.stats().tokenCalls, 0, 'the code is not exchanged')
})

t.test('an error and its description in the redirect are shown scrubbed, on one line and cut', async (t) => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbmFseXN0In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ'
  const b = await startBrowserLogin(t, {
    browser: async (url) => {
      const q = query(url)
      const error = `server_error ${jwt}\n{"level":"info","forged":true}${'x'.repeat(500)}`
      const description = `refresh token ${jwt} refused`
      return get(
        `${q.redirect_uri}?state=${q.state}&error=${encodeURIComponent(error)}&error_description=${encodeURIComponent(description)}`,
      )
    },
  })
  const err = (await b.promise.catch((e: unknown) => e)) as Error & { code: string }
  t.equal(err.code, 'login_failed')
  t.notMatch(err.message, jwt.slice(0, 20), 'no token in the message')
  t.notMatch(err.message, /[\r\n]/, 'one line')
  t.ok(err.message.length < 300, `cut short (${err.message.length} characters)`)
  t.match(err.message, /refresh token \[redacted\] refused/, 'the description is kept, scrubbed')
  t.equal((await b.page).status, 400)
})

t.test(
  'the authorize URL carries a PKCE S256 challenge, a state, the scope with offline_access and prompt=consent',
  async (t) => {
    const b = await startBrowserLogin(t)
    const url = await b.opened
    await b.promise
    const q = query(url)
    t.same(Object.keys(q).sort(), [
      'client_id',
      'code_challenge',
      'code_challenge_method',
      'prompt',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
    ])
    // OpenID Connect Core 11: offline access is granted with consent
    t.equal(q.prompt, 'consent')
    t.equal(new URL(url).origin + new URL(url).pathname, b.sim.idcsUrl + '/oauth2/v1/authorize')
    t.match(q, {
      client_id: b.sim.clientId,
      code_challenge_method: 'S256',
      code_challenge: /^[A-Za-z0-9_-]{43}$/,
      response_type: 'code',
      scope: b.sim.scope,
      state: /^[A-Za-z0-9_-]{16,}$/,
      redirect_uri: /^http:\/\/127\.0\.0\.1:\d+\/callback$/,
    })
  },
)

t.test('login.prompt omit: no prompt is sent', async (t) => {
  const b = await startBrowserLogin(t, { env: { OAC_PROXY_LOGIN_PROMPT: 'omit' } })
  const url = await b.opened
  await b.promise
  t.equal(query(url).prompt, undefined)
})

t.test('the code exchange sends the verifier of the challenge and the same redirect_uri', async (t) => {
  const b = await startBrowserLogin(t)
  const q = query(await b.opened)
  await b.promise
  const exchange = b.sent.map((s) => new URLSearchParams(s)).find((f) => f.get('grant_type') === 'authorization_code')
  const verifier = exchange?.get('code_verifier') ?? ''
  t.equal(createHash('sha256').update(verifier).digest('base64url'), q.code_challenge)
  t.equal(exchange?.get('redirect_uri'), q.redirect_uri)
})

t.test('a fixed redirect port is the port of redirect_uri', async (t) => {
  const port = await freePort()
  const b = await startBrowserLogin(t, { env: { OAC_PROXY_LOGIN_REDIRECT_PORT: String(port) } })
  const url = await b.opened
  await b.promise
  t.equal(query(url).redirect_uri, `http://127.0.0.1:${port}/callback`)
  t.equal((await b.page).status, 200)
})

t.test('an app that matches redirect URIs exactly works with the registered port', async (t) => {
  const port = await freePort()
  const b = await startBrowserLogin(t, {
    sim: { loopbackAnyPort: false, redirectUris: [`http://127.0.0.1:${port}/callback`] },
    env: { OAC_PROXY_LOGIN_REDIRECT_PORT: String(port) },
  })
  t.same(await b.promise, { subject: b.sim.user, credential: 'default' })
  t.equal((await b.page).status, 200)
  t.ok(b.store.load('default')?.refreshToken)
})

t.test('another path on the loopback server gets 404 and does not end the login', async (t) => {
  let other: Page | undefined
  const b = await startBrowserLogin(t, {
    browser: async (url) => {
      other = await get(new URL('/favicon.ico', redirectUriOf(url)).toString())
      return follow(url)
    },
  })
  t.same(await b.promise, { subject: b.sim.user, credential: 'default' })
  t.same(other, { status: 404, contentType: 'text/plain', body: 'not found' })
  t.equal((await b.page).status, 200)
})

t.test('nobody comes back: login_expired after login.timeoutSeconds, and the loopback server is closed', async (t) => {
  const b = await startBrowserLogin(t, {
    env: { OAC_PROXY_LOGIN_TIMEOUT_SECONDS: '1' },
    browser: () => new Promise<Page>(() => {}),
  })
  const url = await b.opened
  await t.rejects(b.promise, { code: 'login_expired' })
  await t.rejects(request(redirectUriOf(url)), { code: 'ECONNREFUSED' })
  t.equal(b.sim.calls.length, 0)
  t.equal(b.store.saves, 0)
})

t.test('the loopback server is closed once the login succeeded', async (t) => {
  const b = await startBrowserLogin(t)
  const url = await b.opened
  await b.promise
  await t.rejects(request(redirectUriOf(url)), { code: 'ECONNREFUSED' })
})

t.test('openBrowser false: no browser is started, the URL is printed', async (t) => {
  const b = await startBrowserLogin(t, { env: { OAC_PROXY_LOGIN_OPEN_BROWSER: 'false' } })
  const authorizeUrl = (): string | undefined =>
    b.out.map((l) => l.trim()).find((l) => l.startsWith(b.sim.idcsUrl + '/oauth2/v1/authorize?'))
  await waitFor(() => authorizeUrl() !== undefined, 5000, 'the printed URL')
  const printed = authorizeUrl() as string
  t.equal(b.openCalls(), 0)
  t.equal(query(printed).code_challenge_method, 'S256')
  const page = await follow(printed)
  t.same(await b.promise, { subject: b.sim.user, credential: 'default' })
  t.equal(page.status, 200)
})
