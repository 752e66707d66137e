// Forwarding: a fresh bearer token replaces whatever the client sent; answers pass through unchanged.
import t from 'tap'
import { request } from 'undici'
import { startStack } from '../helpers.js'

t.test('GET is forwarded with the proxy token, not the client header', async (t) => {
  const s = await startStack(t)
  const res = await s.get('/api/20210901/sim/echo?x=1', {
    authorization: 'Bearer client-supplied-token',
    cookie: 'session=abc',
    'x-oac-proxy-admin-key': 'local-admin-key',
    'x-custom': 'kept',
  })
  t.equal(res.status, 200)
  const echo = res.json() as { method: string; path: string; headers: Record<string, string>; tokenSub: string }
  t.equal(echo.method, 'GET')
  t.equal(echo.tokenSub, s.sim.user, 'upstream saw a valid token for the simulated user')
  t.equal(echo.headers['x-custom'], 'kept')
  t.equal(echo.headers.cookie, undefined, 'cookies are not forwarded')
  t.equal(echo.headers['x-oac-proxy-admin-key'], undefined, 'the local admin key is not forwarded')
  const oacCalls = s.sim.calls.filter((c) => c.server === 'oac')
  t.equal(oacCalls.length, 1)
  t.equal(oacCalls[0]?.tokenState, 'valid')
  t.same(s.leakedSecrets(), [])
})

t.test('upstream answers pass through unchanged (status, headers, body)', async (t) => {
  const s = await startStack(t)
  const created = await request(`${s.url}/api/20210901/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'CREATE', name: 'nightly', password: 'Pw-12345678' }),
  })
  t.equal(created.statusCode, 202)
  const body = (await created.body.json()) as { workRequestId: string }
  t.type(body.workRequestId, 'string')
  t.equal(created.headers['oa-work-request-id'], body.workRequestId)
  const missing = await s.get('/api/20210901/snapshots/does-not-exist')
  t.equal(missing.status, 404)
  t.match(missing.json(), { code: 'NotFound' })
})

t.test('admin endpoints answer on /-/ and are not forwarded', async (t) => {
  const s = await startStack(t)
  const health = await s.get('/-/healthz')
  t.equal(health.status, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await s.get('/-/readyz')
  t.equal(ready.status, 200)
  t.same(ready.json(), { status: 'ready', credentials: { default: 'valid' } })
  const status = await s.get('/-/status')
  t.equal(status.status, 200)
  t.notOk(status.body.includes(s.sim.issued.accessTokens[0] as string), 'status holds no token')
  const unknown = await s.get('/-/nope')
  t.equal(unknown.status, 404)
  t.equal((unknown.json() as { error: string }).error, 'admin_not_found')
  t.equal(s.sim.calls.filter((c) => c.server === 'oac').length, 0)
})
