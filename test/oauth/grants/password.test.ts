// The resource owner password grant: works for local users, warns it is deprecated, explains federated failures.
import t from 'tap'
import { registerSecret, startStack } from '../../helpers.js'
import { DEFAULT_USER_PASSWORD } from '../../../src/simulator/constants.js'

registerSecret(DEFAULT_USER_PASSWORD)

t.test('password grant: requests succeed, a deprecation warning is logged, no refresh token kept', async (t) => {
  const s = await startStack(t, {
    noRefreshToken: true,
    env: { OAC_PROXY_PASSWORD: DEFAULT_USER_PASSWORD },
    file: (sim) => ({ grant: 'password', username: sim.user }),
  })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  t.equal(s.logs.events('grant.password_deprecated').length, 1)
  t.equal(s.logs.events('grant.password_deprecated')[0]?.level, 'warn')
  t.same(s.store.load('default'), undefined)
  t.same(
    s.sim.calls.filter((c) => c.server === 'idcs').map((c) => c.grantType),
    ['password'],
  )
  t.same(s.leakedSecrets(), [])
  t.notOk(s.logs.text().includes(DEFAULT_USER_PASSWORD), 'the password is never logged')
})

t.test('a wrong password: 503 credential_rejected with a hint, not retried', async (t) => {
  const s = await startStack(t, {
    noRefreshToken: true,
    env: { OAC_PROXY_PASSWORD: 'wrong-password' },
    file: (sim) => ({ grant: 'password', username: sim.user }),
  })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  const body = res.json() as { error: string; hint: string }
  t.equal(body.error, 'credential_rejected')
  t.match(body.hint, /federated/)
  t.equal(s.sim.stats().tokenCalls, 1)
})

t.test('a federated user: the identity domain refuses, the proxy says why', async (t) => {
  const s = await startStack(t, {
    noRefreshToken: true,
    env: { OAC_PROXY_PASSWORD: 'whatever' },
    file: { grant: 'password', username: 'federated@example.com' },
  })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  t.match((res.json() as { message: string }).message, /[Ff]ederated/)
})

t.test('config: password grant without a password is refused at load', async (t) => {
  await t.rejects(startStack(t, { noRefreshToken: true, file: (sim) => ({ grant: 'password', username: sim.user }) }), {
    code: 'config_invalid',
    message: /password is required for grant password/,
  })
})
