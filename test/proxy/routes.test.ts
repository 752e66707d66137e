// Several APIs from one proxy: routes to other upstreams with their own credentials, isolated from each other.
import t from 'tap'
import { request } from 'undici'
import { startStack } from '../helpers.js'

const adminRoute = (credential: string) => (sim: { idcsUrl: string; clientId: string; clientSecret: string }) => ({
  credentials: {
    'idcs-admin': {
      clientId: sim.clientId,
      clientSecret: credential === 'good' ? sim.clientSecret : 'wrong-secret',
      grant: 'client_credentials',
      scope: 'urn:opc:idm:__myscopes__',
    },
  },
  routes: [{ prefix: '/idcs/', upstream: sim.idcsUrl, credential: 'idcs-admin' }],
})

t.test('/idcs/ reaches the IDCS admin API with a client-credentials token; / still reaches OAC', async (t) => {
  const s = await startStack(t, { file: adminRoute('good') })
  const apps = await s.get('/idcs/admin/v1/Apps/oac-sim-app')
  t.equal(apps.status, 200)
  t.match(apps.json(), { id: 'oac-sim-app', allowOffline: false })
  const patch = await request(`${s.url}/idcs/admin/v1/Apps/oac-sim-app`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/scim+json' },
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'allowOffline', value: true }],
    }),
  })
  t.equal(patch.statusCode, 200)
  t.match(await patch.body.json(), { allowOffline: true })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200, 'OAC still served by the default credential')
  const grants = s.sim.calls.filter((c) => c.path === '/oauth2/v1/token').map((c) => c.grantType)
  t.same(grants.sort(), ['client_credentials', 'refresh_token'])
  const status = (await s.get('/-/status')).json() as { credentials: Array<{ credential: string; health: string }> }
  t.same(
    status.credentials.map((c) => [c.credential, c.health]),
    [
      ['default', 'valid'],
      ['idcs-admin', 'valid'],
    ],
  )
})

t.test('a failing second credential does not disturb the first', async (t) => {
  const s = await startStack(t, { file: adminRoute('bad') })
  const admin = await s.get('/idcs/admin/v1/Apps')
  t.equal(admin.status, 503)
  t.equal((admin.json() as { error: string }).error, 'credential_rejected')
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  const ready = await s.get('/-/readyz')
  t.equal(ready.status, 200, 'readiness follows the OAC credential')
  t.same(ready.json(), { status: 'ready', credentials: { default: 'valid', 'idcs-admin': 'credential_rejected' } })
})

t.test('a client-credentials token sent to OAC is refused there, and the proxy warned about it', async (t) => {
  const s = await startStack(t, {
    noRefreshToken: true,
    file: { grant: 'client_credentials' },
  })
  t.equal(s.logs.events('grant.client_credentials_for_oac').length, 1)
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 401, "OAC's own answer is passed on")
})

t.test('routes are checked at load: unknown credential, reserved prefix, duplicate prefix', async (t) => {
  await t.rejects(
    startStack(t, {
      file: (sim) => ({
        routes: [
          { prefix: '/a/', upstream: sim.idcsUrl, credential: 'missing' },
          { prefix: '/-/x/', upstream: sim.idcsUrl, credential: 'default' },
          { prefix: '/a/', upstream: sim.idcsUrl, credential: 'default' },
          { prefix: 'no-slash', upstream: sim.idcsUrl, credential: 'default' },
        ],
      }),
    }),
    {
      code: 'config_invalid',
      message: /routes\.3\.prefix must start and end with \//,
    },
  )
  await t.rejects(
    startStack(t, {
      file: (sim) => ({
        routes: [
          { prefix: '/a/', upstream: sim.idcsUrl, credential: 'missing' },
          { prefix: '/-/x/', upstream: sim.idcsUrl, credential: 'default' },
          { prefix: '/a/', upstream: sim.idcsUrl, credential: 'default' },
          { prefix: '/b/', upstream: 'http://example.com', credential: 'default' },
        ],
      }),
    }),
    {
      code: 'config_invalid',
      message:
        /routes\.3\.upstream must use https[\s\S]*routes\.0\.credential 'missing' is not a configured credential[\s\S]*reserved for admin endpoints[\s\S]*listed twice/,
    },
  )
})
