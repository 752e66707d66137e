// An identity provider that echoes secrets back: none reaches a message, a log line, /-/status or an HTTP answer.
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startStack, waitFor, type Stack } from '../helpers.js'
import { sanitizeDescription } from '../../src/shared/errors.js'
import { applyClientAuth } from '../../src/oauth/client-auth.js'
import { Secret } from '../../src/shared/secret.js'

/** Every 12-character piece of each secret: a cut that leaves a fragment is a leak too. */
function fragments(secrets: string[]): string[] {
  const out: string[] = []
  for (const s of secrets) for (let i = 0; i + 12 <= s.length; i += 6) out.push(s.slice(i, i + 12))
  return out
}

async function failingStack(
  t: Test,
  answer: (rt: string, secret: string) => Record<string, string>,
): Promise<{ s: Stack; rt: string }> {
  let rt = ''
  const s = await startStack(t, {
    noRefreshToken: true,
    waitForToken: false,
    beforeProxy: (sim, dir) => {
      rt = sim.issueRefreshToken()
      writeFileSync(join(dir, 'rt'), rt, { mode: 0o600 })
      sim.faults.idcs.always({ kind: 'status', status: 400, body: JSON.stringify(answer(rt, sim.clientSecret)) })
    },
    file: { refreshToken: { file: 'rt' } },
  })
  await waitFor(() => s.proxy.manager.health !== 'starting', 5000, 'the first refresh to fail')
  return { s, rt }
}

/** No piece of any secret in any of the texts (named by where they were read). */
function noSecretIn(t: Test, secrets: string[], texts: Record<string, string>): void {
  for (const [where, text] of Object.entries(texts)) {
    t.same(
      fragments(secrets).filter((f) => text.includes(f)),
      [],
      `no piece of a secret in ${where}`,
    )
  }
}

t.test('an IdP echoing the client secret and the refresh token in error_description', async (t) => {
  const { s, rt } = await failingStack(t, (rt, secret) => ({
    error: 'invalid_grant',
    // the refresh token straddles the 200-character cut of descriptions
    error_description: `${'x'.repeat(170)} refresh token ${rt} sent by client with secret ${secret} is invalid`,
  }))
  const secrets = [rt, s.sim.clientSecret]
  t.equal(s.proxy.manager.health, 'login_required')
  const status = await s.get('/-/status')
  t.equal(status.status, 200)
  const api = await s.get('/api/20210901/snapshots')
  t.equal(api.status, 503)
  t.equal((api.json() as { error: string }).error, 'login_required')
  const line = s.logs.events('token.login_required')[0]
  t.ok(line, 'the login_required line is logged')
  const lastError = (status.json() as { credentials: Array<{ lastError?: { message: string } }> }).credentials[0]
    ?.lastError?.message
  t.match(lastError, /\[redacted\]/, 'the status says something was scrubbed')
  noSecretIn(t, secrets, { '/-/status': status.body, 'the HTTP answer': api.body, 'the logs': s.logs.text() })
})

t.test('scopes and URLs in an IdP error stay readable', async (t) => {
  const { s } = await failingStack(t, () => ({
    error: 'invalid_scope',
    error_description: `Invalid scope: https://abcdef0123456789abcdef0123456789.analytics.ocp.oraclecloud.comurn:opc:resource:consumer::all`,
  }))
  const status = await s.get('/-/status')
  t.match(
    status.body,
    'Invalid scope: https://abcdef0123456789abcdef0123456789.analytics.ocp.oraclecloud.comurn:opc:resource:consumer::all',
  )
  t.equal(
    sanitizeDescription('see /api/20210901/system/actions/restoreSnapshot for details'),
    'see /api/20210901/system/actions/restoreSnapshot for details',
    'paths stay readable',
  )
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbmFseXN0In0.c2lnbmF0dXJl'
  t.equal(sanitizeDescription(`token ${jwt} expired`), 'token [redacted] expired', 'token shapes still are')
  t.equal(sanitizeDescription('opaque 8f9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a rejected'), 'opaque [redacted] rejected')
})

t.test('an IdP echoing the Basic credential, or secrets in the error field itself', async (t) => {
  const basic = (id: string, secret: string): string => Buffer.from(`${id}:${secret}`).toString('base64')
  const { s, rt } = await failingStack(t, (rt, secret) => ({
    error: `invalid_grant ${rt}\n{"level":"info","forged":true}`,
    error_description: `bad client, Authorization: Basic ${basic('oac-sim-client', secret)} refused`,
  }))
  const secrets = [rt, s.sim.clientSecret, basic(s.sim.clientId, s.sim.clientSecret)]
  const status = await s.get('/-/status')
  const api = await s.get('/api/20210901/snapshots')
  noSecretIn(t, secrets, { '/-/status': status.body, 'the HTTP answer': api.body, 'the logs': s.logs.text() })
  t.notMatch(s.logs.text(), /"forged":true/, 'the error field cannot forge a log line')
  const lastError = (status.json() as { credentials: Array<{ lastError?: { message: string } }> }).credentials[0]
    ?.lastError?.message
  t.notMatch(lastError, /[\r\n]/, 'the status shows the error on one line')
})

t.test('a short Basic credential, too short to look like a token, is scrubbed as a known value', async (t) => {
  const headers: Record<string, string> = {}
  await applyClientAuth(
    { method: 'client_secret_basic', clientId: 'c', clientSecret: new Secret('short-pw-12', 'test') },
    headers,
    new URLSearchParams(),
  )
  const basic = (headers.authorization as string).slice('Basic '.length)
  t.ok(basic.length < 32, 'shorter than the token shapes redaction looks for')
  t.equal(sanitizeDescription(`Authorization: Basic ${basic} refused`), 'Authorization: Basic [redacted] refused')
})
