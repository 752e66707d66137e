// `token` without a running proxy reuses the access token it saved while it has time left, and refreshes near expiry.
import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_CREDENTIAL } from '../../src/config/options.js'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import { reusableToken, TOKEN_REUSE_MIN_REMAINING_MS } from '../../src/cli/token.js'
import type { StateFile } from '../../src/token/store/file.js'
import { runCli } from '../helpers/cli-run.js'
import { leaks, secretsOf, writeSimConfig } from '../helpers.js'

function folder(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oac-proxy-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function setup(t: Test, lifetimeS = 100): Promise<{ sim: Simulator; config: string; statePath: string }> {
  const sim = await startSimulator({ accessTokenLifetimeS: lifetimeS })
  t.teardown(() => sim.close())
  const dir = folder(t)
  const config = await writeSimConfig(dir, sim)
  return { sim, config, statePath: join(dir, 'state.json') }
}

interface TokenJson {
  accessToken: string
  expiresAt: string
  source: string
}

async function token(t: Test, config: string): Promise<TokenJson> {
  const r = await runCli(['token', '--config', config, '--json'])
  t.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as TokenJson
}

t.test('a second token call reuses the saved access token: one refresh, one rotation for both', async (t) => {
  const { sim, config, statePath } = await setup(t)
  const first = await token(t, config)
  t.equal(first.source, 'refresh')
  t.equal(sim.stats().tokenCalls, 1)
  const second = await token(t, config)
  t.equal(second.source, 'saved')
  t.equal(second.accessToken, first.accessToken)
  t.equal(second.expiresAt, first.expiresAt)
  t.equal(sim.stats().tokenCalls, 1, 'no second token call')
  const bare = await runCli(['token', '--config', config])
  t.equal(bare.stdout.trim(), first.accessToken)
  t.equal(sim.stats().tokenCalls, 1)
  t.equal(statSync(statePath).mode & 0o777, 0o600, 'the state file holding the access token is 0600')
  t.same(leaks(bare.stderr, secretsOf(sim, [first.accessToken])), [], 'no token on stderr')
  const status = await runCli(['status', '--config', config])
  t.match(status.stdout, /^ {2}access token: {3}expires in .*, saved by login or token$/m)
  t.same(leaks(status.stdout + status.stderr, secretsOf(sim, [first.accessToken])), [], 'status shows no token')
})

// 5 s: inside the manager's own safety margin; 20 s: outside it, but under the 30 s token asks for
for (const leftMs of [5000, 20_000]) {
  t.test(
    `a saved token with ${leftMs / 1000} s left is not handed out: token refreshes and saves the new one`,
    async (t) => {
      const { sim, config, statePath } = await setup(t)
      const first = await token(t, config)
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as StateFile
      const entry = state.credentials[DEFAULT_CREDENTIAL]
      if (!entry) throw new Error('no entry')
      // as if the saved 100 s token had only that long left
      entry.accessTokenExpiresAtMs = Date.now() + leftMs
      entry.accessTokenObtainedAtMs = Date.now() + leftMs - 100_000
      writeFileSync(statePath, JSON.stringify(state), { mode: 0o600 })
      const second = await token(t, config)
      t.equal(second.source, 'refresh')
      t.not(second.accessToken, first.accessToken)
      t.equal(sim.stats().refreshGrants, 2)
      t.equal(sim.stats().staleRefreshTokenUses, 0)
      const saved = (JSON.parse(readFileSync(statePath, 'utf8')) as StateFile).credentials[DEFAULT_CREDENTIAL]
      t.equal(saved?.accessToken, second.accessToken, 'the new token is saved')
      t.equal(saved?.refreshToken, sim.issued.refreshTokens.at(-1), 'with the newest refresh token')
    },
  )
}

t.test(
  'reuse needs 30 s left, or half the lifetime of a short-lived token, and never less than the safety margin',
  async (t) => {
    const settings = { expirySafetyMs: 5000 }
    const now = 1_000_000
    const saved = (lifetimeMs: number, leftMs: number) => ({
      accessToken: 'a.b.c',
      accessTokenObtainedAtMs: now + leftMs - lifetimeMs,
      accessTokenExpiresAtMs: now + leftMs,
    })
    t.ok(reusableToken(saved(100_000, TOKEN_REUSE_MIN_REMAINING_MS), settings, now))
    t.notOk(reusableToken(saved(100_000, TOKEN_REUSE_MIN_REMAINING_MS - 1), settings, now))
    t.ok(reusableToken(saved(20_000, 10_000), settings, now), 'a 20 s token with half left')
    t.notOk(reusableToken(saved(20_000, 9_999), settings, now))
    t.notOk(reusableToken(saved(8_000, 4_999), settings, now), 'never within the safety margin')
    t.notOk(reusableToken(saved(100_000, -1), settings, now), 'never an expired one')
    t.notOk(reusableToken({ accessToken: 'a.b.c' }, settings, now), 'never one without an expiry')
    t.notOk(reusableToken(undefined, settings, now))
  },
)
