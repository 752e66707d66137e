// `status` exits with a distinct documented code per state, shows both scopes, and takes --credential.
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { decodeJwt } from 'jose'
import { join } from 'node:path'
import { EXIT } from '../../src/cli/exit-codes.js'
import type { Simulator } from '../../src/simulator/index.js'
import { runCli, simulatorFor, tempFolder } from '../helpers/cli-run.js'
import { spawnProxy, waitFor, writeSimConfig } from '../helpers.js'

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

interface Report {
  credentials: Array<{ credential: string; health: string; scope?: string; configuredScope?: string }>
}

async function statusOf(t: Test, config: string, extra: string[] = []): Promise<{ code: number; report: Report }> {
  const r = await runCli(['status', '--config', config, '--json', ...extra])
  t.not(r.stdout, '', r.stderr)
  return { code: r.code, report: JSON.parse(r.stdout) as Report }
}

/** Starts a proxy on `config` and waits until its credential leaves 'starting'. */
async function running(t: Test, config: string): Promise<void> {
  const proxy = await spawnProxy(t, config)
  await waitFor(
    () =>
      proxy.lines.some((l) =>
        /^token\.(refreshed|refresh_failed|login_required|credential_rejected)$/.test(String(l.event)),
      ),
    10_000,
    'the first refresh to end',
  )
}

/** The status of a proxy running on a simulator config whose `file` beside it holds `content` instead. */
async function statusWithFile(
  t: Test,
  file: string,
  content: string,
): Promise<{ sim: Simulator; code: number; report: Report }> {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const dir = tempFolder(t)
  const config = await writeSimConfig(dir, sim)
  writeFileSync(join(dir, file), content, { mode: 0o600 })
  await running(t, config)
  return { sim, ...(await statusOf(t, config)) }
}

t.test('valid: exit 0, with the token scope and the configured scope', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const config = await writeSimConfig(tempFolder(t), sim)
  await running(t, config)
  const { code, report } = await statusOf(t, config)
  t.equal(code, EXIT.ok)
  t.equal(report.credentials[0]?.health, 'valid')
  t.equal(report.credentials[0]?.configuredScope, sim.scope)
  t.ok(report.credentials[0]?.scope, 'the scope claim of the token')
  const text = await runCli(['status', '--config', config])
  t.equal(text.code, EXIT.ok)
  t.match(text.stdout, /^ {2}token scope: +\S/m)
  t.match(text.stdout, new RegExp(`^ {2}config scope: +${sim.scope.replace(/[.:]/g, '\\$&')}$`, 'm'))
})

t.test('the token scope of a saved access token: without a proxy, and from a proxy started on it', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const config = await writeSimConfig(tempFolder(t), sim)
  const saved = await runCli(['token', '--config', config, '--json'])
  t.equal(saved.code, 0, saved.stderr)
  const { accessToken } = JSON.parse(saved.stdout) as { accessToken: string }
  const claimed = (decodeJwt(accessToken) as { scope?: string }).scope
  t.ok(claimed, 'the simulated token carries a scope claim')
  const idle = await statusOf(t, config)
  t.equal(idle.code, EXIT.notRunning)
  t.equal(idle.report.credentials[0]?.scope, claimed, 'status without a proxy reads the saved token')
  const text = await runCli(['status', '--config', config])
  t.match(text.stdout, /^ {2}token scope: +\S/m)
  t.match(text.stdout, /^ {2}access token: +expires in .*, saved by login or token$/m)

  const proxy = await spawnProxy(t, config)
  await waitFor(() => proxy.lines.some((l) => l.event === 'token.saved_used'), 10_000, 'the saved token in use')
  const served = await statusOf(t, config)
  t.equal(served.code, EXIT.ok)
  t.equal(served.report.credentials[0]?.scope, claimed, 'a proxy started on the saved token shows its scope')
  t.equal(served.report.credentials[0]?.configuredScope, sim.scope)
  t.equal(sim.stats().refreshGrants, 1, 'the proxy started on the saved token (no refresh)')
})

t.test('login_required: exit 4, with and without a running proxy', async (t) => {
  const { sim, code, report } = await statusWithFile(t, 'refresh-token', 'not-a-refresh-token')
  t.equal(report.credentials[0]?.health, 'login_required')
  t.equal(code, EXIT.login)

  const idle = await writeSimConfig(tempFolder(t), sim, { refreshToken: undefined })
  const r = await runCli(['status', '--config', idle])
  t.equal(r.code, EXIT.login, 'no proxy and no refresh token anywhere')
  t.match(r.stdout, /login_required/)
})

t.test('a running proxy that does not sign in by itself: status and login say to stop it first', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const config = await writeSimConfig(tempFolder(t), sim, { refreshToken: undefined, login: { headless: false } })
  await running(t, config)
  const status = await runCli(['status', '--config', config])
  t.equal(status.code, EXIT.login)
  t.match(
    status.stdout,
    /^ {2}to sign in: +stop the proxy \(pid \d+\), run oac-token-proxy login, then start it again/m,
  )
  const login = await runCli(['login', '--config', config])
  t.equal(login.code, EXIT.state, login.stderr)
  t.match(login.stderr, /^oac-token-proxy: state_locked: /m)
  t.match(login.stderr, /hint: login and import write the state file that process holds: stop it/)
  t.notMatch(login.stderr, /ask the running proxy for a token/, 'no advice meant for token')
})

t.test('credential_rejected: exit 5', async (t) => {
  const { code, report } = await statusWithFile(t, 'client-secret', 'wrong-secret')
  t.equal(report.credentials[0]?.health, 'credential_rejected')
  t.equal(code, EXIT.credentialRejected)
})

t.test('not ready (the identity domain does not answer): exit 6', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const config = await writeSimConfig(tempFolder(t), sim, { idcsUrl: `http://127.0.0.1:${await closedPort()}` })
  await running(t, config)
  const { code, report } = await statusOf(t, config)
  t.equal(report.credentials[0]?.health, 'failing')
  t.equal(code, EXIT.notReady)
})

t.test('no proxy running, refresh token saved: exit 7', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const config = await writeSimConfig(tempFolder(t), sim)
  const { code, report } = await statusOf(t, config)
  t.equal(report.credentials[0]?.health, 'stopped')
  t.equal(code, EXIT.notRunning)
})

t.test('--credential shows one credential; an unknown one is a usage error', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const config = await writeSimConfig(tempFolder(t), sim, {
    credentials: {
      admin: {
        clientId: sim.clientId,
        clientSecret: { file: 'client-secret' },
        grant: 'client_credentials',
        scope: sim.idcsAdminScope,
      },
    },
    routes: [{ prefix: '/idcs/', upstream: sim.idcsUrl, credential: 'admin' }],
  })
  const all = await statusOf(t, config)
  t.same(
    all.report.credentials.map((c) => c.credential),
    ['default', 'admin'],
  )
  const one = await statusOf(t, config, ['--credential', 'admin'])
  t.same(
    one.report.credentials.map((c) => c.credential),
    ['admin'],
  )
  const bad = await runCli(['status', '--config', config, '--credential', 'nope'])
  t.equal(bad.code, EXIT.usage)
  t.match(bad.stderr, /nope/)
})
