// The JWT user assertion grant end to end: no refresh token, a fresh assertion per renewal, and its failures.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FakeClock, startStack } from '../../helpers.js'
import { rsaPem, selfSigned } from './keys.js'

const KID = 'oac-proxy-cert'

t.test(
  'assertion signed with a kid: requests succeed, nothing is stored, each renewal is a new assertion',
  async (t) => {
    const clock = new FakeClock()
    const key = rsaPem()
    const s = await startStack(t, {
      clock,
      noRefreshToken: true,
      random: () => 0,
      beforeProxy: (sim) => sim.registerClientKey({ kid: KID, publicKeyPem: key.publicKeyPem }),
      files: () => ({ 'key.pem': key.privateKeyPem }),
      file: (sim) => ({ grant: 'jwt_bearer', username: sim.user, privateKey: { file: 'key.pem' }, keyId: KID }),
    })
    const first = await s.get('/api/20210901/snapshots')
    t.equal(first.status, 200)
    await clock.advance(50_000)
    await s.proxy.manager.settled()
    t.equal((await s.get('/api/20210901/snapshots')).status, 200)
    const grants = s.sim.calls.filter((c) => c.grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer')
    t.same(
      grants.map((c) => c.status),
      [200, 200],
      'one assertion at start, one at the scheduled renewal',
    )
    t.equal(s.sim.issued.refreshTokens.length, 0, 'no refresh token involved')
    t.same(s.store.load('default'), undefined, 'nothing written to the state')
    t.same(s.leakedSecrets(), [])
    t.notOk(s.logs.text().includes('PRIVATE KEY'), 'the key is never logged')
  },
)

t.test('assertion with the certificate thumbprint (x5t) and the domain URL as audience', async (t) => {
  const made = selfSigned(t.testdir())
  if (!made) {
    t.comment('openssl is not available: x5t not tested')
    return
  }
  const s = await startStack(t, {
    noRefreshToken: true,
    beforeProxy: (sim) => sim.registerClientKey({ certificatePem: made.certificatePem }),
    files: () => ({ 'key.pem': readFileSync(made.keyPath, 'utf8'), 'cert.pem': made.certificatePem }),
    file: (sim) => ({
      grant: 'jwt_bearer',
      username: sim.user,
      privateKey: { file: 'key.pem' },
      certificate: 'cert.pem',
      assertionAudience: sim.idcsUrl,
    }),
  })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
})

/** A stack whose proxy signs with key.pem, registered under KID; `file` overrides config keys, `files` adds files. */
async function rejectedStack(
  t: Parameters<typeof startStack>[0],
  file: Record<string, unknown>,
  files: Record<string, string> = {},
) {
  const key = rsaPem()
  return startStack(t, {
    noRefreshToken: true,
    beforeProxy: (sim) => sim.registerClientKey({ kid: KID, publicKeyPem: key.publicKeyPem }),
    files: () => ({ 'key.pem': key.privateKeyPem, ...files }),
    file: (sim) => ({ grant: 'jwt_bearer', username: sim.user, privateKey: { file: 'key.pem' }, keyId: KID, ...file }),
  })
}

t.test('a key that does not match the registered certificate: 503 credential_rejected, not retried', async (t) => {
  const other = rsaPem()
  const s = await rejectedStack(t, { privateKey: { file: 'other.pem' } }, { 'other.pem': other.privateKeyPem })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  const body = res.json() as { error: string; message: string; hint: string }
  t.equal(body.error, 'credential_rejected')
  t.match(body.message, /JWT assertion was rejected/)
  t.match(body.hint, /privateKey/)
  t.equal(s.proxy.manager.health, 'credential_rejected')
  t.equal(s.sim.stats().oacRequests, 0)
})

t.test('a wrong audience: credential_rejected naming the audience check', async (t) => {
  const s = await rejectedStack(t, { assertionAudience: 'https://wrong.example.com/' })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  t.match((res.json() as { message: string }).message, /audience/)
})

t.test('an unknown user as subject: credential_rejected', async (t) => {
  const s = await rejectedStack(t, { username: 'nobody@example.com' })
  t.equal((await s.get('/api/20210901/snapshots')).status, 503)
  t.equal(s.proxy.manager.health, 'credential_rejected')
})

t.test('config: jwt_bearer without key or kid is refused at load, naming the keys', async (t) => {
  await t.rejects(
    startStack(t, { noRefreshToken: true, file: (sim) => ({ grant: 'jwt_bearer', username: sim.user }) }),
    {
      code: 'config_invalid',
      message: /privateKey is required for grant jwt_bearer[\s\S]*keyId or certificate is required/,
    },
  )
})

t.test('config: a privateKey that is not a PEM key is refused without echoing it', async (t) => {
  const junk = 'not-a-key-but-a-secret-looking-value-1234567890'
  await t.rejects(
    startStack(t, {
      noRefreshToken: true,
      files: () => ({ 'key.pem': junk }),
      file: (sim) => ({ grant: 'jwt_bearer', username: sim.user, privateKey: { file: 'key.pem' }, keyId: KID }),
    }),
    { code: 'config_invalid', message: /privateKey is not a PEM private key/ },
  )
  try {
    await startStack(t, {
      noRefreshToken: true,
      files: () => ({ 'key.pem': junk }),
      file: (sim) => ({
        grant: 'jwt_bearer',
        username: sim.user,
        privateKey: { file: join('.', 'key.pem') },
        keyId: KID,
      }),
    })
  } catch (err) {
    t.notOk((err as Error).message.includes(junk), 'the value is not in the message')
  }
})
