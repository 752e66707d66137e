// Client authentication is separate from the grant: basic, post, private_key_jwt and public clients all work.
import t from 'tap'
import { startStack } from '../../helpers.js'
import { rsaPem } from './keys.js'

const idcsAuth = (s: Awaited<ReturnType<typeof startStack>>): Array<string | undefined> =>
  s.sim.calls.filter((c) => c.server === 'idcs').map((c) => c.clientAuth)

t.test('client_secret_basic is the default with a secret', async (t) => {
  const s = await startStack(t)
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  t.same(idcsAuth(s), ['basic'])
})

t.test('client_secret_post sends the secret in the form', async (t) => {
  const s = await startStack(t, { env: { OAC_PROXY_CLIENT_AUTH: 'client_secret_post' } })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  t.same(idcsAuth(s), ['post'])
})

t.test('private_key_jwt signs a client assertion (with the refresh token grant)', async (t) => {
  const key = rsaPem()
  const s = await startStack(t, {
    beforeProxy: (sim) => sim.registerClientKey({ kid: 'client-cert', publicKeyPem: key.publicKeyPem }),
    env: { OAC_PROXY_CLIENT_SECRET: '' },
    files: () => ({ 'key.pem': key.privateKeyPem }),
    file: { clientAuth: 'private_key_jwt', privateKey: { file: 'key.pem' }, keyId: 'client-cert' },
  })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  t.same(idcsAuth(s), ['private_key_jwt'])
})

t.test('a public client sends its client id only', async (t) => {
  const s = await startStack(t, {
    env: { OAC_PROXY_CLIENT_SECRET: '', OAC_PROXY_CLIENT_ID: 'oac-sim-public' },
    noRefreshToken: true,
    files: (sim) => ({ rt: sim.issueRefreshToken({ clientId: sim.publicClientId }) }),
    file: { refreshToken: { file: 'rt' } },
  })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  t.same(idcsAuth(s), ['none'])
})

t.test('a wrong client secret: 503 credential_rejected, readiness false, not retried', async (t) => {
  const s = await startStack(t, { env: { OAC_PROXY_CLIENT_SECRET: 'wrong-secret' } })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  const body = res.json() as { error: string; message: string; hint: string }
  t.equal(body.error, 'credential_rejected')
  t.match(body.message, /invalid_client/)
  t.match(body.hint, /clientSecret/)
  t.equal((await s.get('/-/readyz')).status, 503)
  t.equal(s.sim.stats().tokenCalls, 1)
})

t.test('an app not allowed the refresh token grant: unauthorized_client is explained', async (t) => {
  const s = await startStack(t, {
    beforeProxy: (sim) => sim.setClientGrants(sim.clientId, ['authorization_code']),
  })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  const body = res.json() as { error: string; message: string; hint: string }
  t.equal(body.error, 'credential_rejected')
  t.match(body.message, /unauthorized_client/)
  t.match(body.hint, /grant types allowed/)
})

t.test('a scope the domain does not know: invalid_scope is explained', async (t) => {
  const s = await startStack(t, {
    noRefreshToken: true,
    env: { OAC_PROXY_PASSWORD: 'x', OAC_PROXY_SCOPE: 'https://unknown.example.comurn:opc:resource:consumer::all' },
    file: (sim) => ({ grant: 'password', username: sim.user }),
  })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  t.match((res.json() as { message: string }).message, /invalid_scope/)
})

t.test(
  'private_key_jwt: a refused audience the server names is retried once with the token endpoint URL',
  async (t) => {
    const key = rsaPem()
    const s = await startStack(t, {
      beforeProxy: (sim) => sim.registerClientKey({ kid: 'client-cert', publicKeyPem: key.publicKeyPem }),
      env: { OAC_PROXY_CLIENT_SECRET: '' },
      files: () => ({ 'key.pem': key.privateKeyPem }),
      file: {
        clientAuth: 'private_key_jwt',
        privateKey: { file: 'key.pem' },
        keyId: 'client-cert',
        assertionAudience: 'https://audience.example.com/',
      },
    })
    t.equal((await s.get('/api/20210901/snapshots')).status, 200)
    t.same(idcsAuth(s), ['invalid', 'private_key_jwt'], 'refused once, then accepted')
    await s.proxy.manager.forceRefresh((await s.proxy.manager.get()).value)
    t.same(idcsAuth(s), ['invalid', 'private_key_jwt', 'private_key_jwt'], 'the accepted audience is kept')
  },
)

t.test('private_key_jwt refused for good: credential_rejected whose hint names assertionAudience', async (t) => {
  const key = rsaPem()
  const other = rsaPem()
  const s = await startStack(t, {
    beforeProxy: (sim) => sim.registerClientKey({ kid: 'client-cert', publicKeyPem: other.publicKeyPem }),
    env: { OAC_PROXY_CLIENT_SECRET: '' },
    files: () => ({ 'key.pem': key.privateKeyPem }),
    file: { clientAuth: 'private_key_jwt', privateKey: { file: 'key.pem' }, keyId: 'client-cert' },
  })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  const body = res.json() as { error: string; hint: string }
  t.equal(body.error, 'credential_rejected')
  t.match(body.hint, /assertionAudience/)
  t.match(body.hint, /privateKey/)
  t.equal(res.headers['retry-after'], '60')
})
