// Route access rules: readOnly, allowMethods, allowPaths and denyPaths, on the OAC route and on named routes.
import t from 'tap'
import { request } from 'undici'
import { globToRegExp } from '../../src/proxy/access.js'
import { startStack } from '../helpers.js'
import { adminCredential } from './routes-fixture.js'

t.test('globs: * stays within a segment, ** crosses segments', async (t) => {
  t.ok(globToRegExp('/api/*/snapshots').test('/api/20210901/snapshots'))
  t.notOk(globToRegExp('/api/*/snapshots').test('/api/a/b/snapshots'))
  t.ok(globToRegExp('/api/**').test('/api/a/b/c'))
  t.notOk(globToRegExp('/api/**').test('/apix'))
  t.notOk(globToRegExp('/a.b').test('/aXb'), 'dots are literal')
  t.ok(globToRegExp('/api/x/**').test('/api/x'), 'a trailing /** covers the path itself')
  t.ok(globToRegExp('/api/x/**').test('/api/x/'))
  t.notOk(globToRegExp('/api/x/**').test('/api/xy'))
  t.ok(globToRegExp('/api/*/catalog/**').test('/API/1/Catalog/y'), 'case is ignored')
})

t.test('readOnly: GET and HEAD pass, writes get 405 method_forbidden', async (t) => {
  const s = await startStack(t, { file: { access: { readOnly: true } } })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  const head = await request(`${s.url}/api/20210901/snapshots`, { method: 'HEAD' })
  await head.body.dump()
  t.ok(
    s.sim.calls.some((c) => c.server === 'oac' && c.method === 'HEAD'),
    `HEAD passes the proxy (OAC answered ${head.statusCode})`,
  )
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    const res = await request(`${s.url}/api/20210901/snapshots`, { method, body: method === 'DELETE' ? null : '{}' })
    t.equal(res.statusCode, 405, method)
    t.same(await res.body.json(), {
      error: 'method_forbidden',
      message: `${method} is not allowed here (read-only route)`,
      hint: 'Allowed: GET, HEAD.',
    })
  }
  t.equal(s.sim.stats().oacRequests, 2, 'only the reads reached OAC')
})

t.test('allowPaths and denyPaths', async (t) => {
  const s = await startStack(t, {
    file: {
      access: {
        allowPaths: ['/api/20210901/snapshots', '/api/20210901/snapshots/**'],
        denyPaths: ['/api/20210901/snapshots/secret*'],
      },
    },
  })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  t.equal((await s.get('/api/20210901/snapshots/abc')).status, 404, 'allowed, and OAC answers')
  const denied = await s.get('/api/20210901/snapshots/secret-1')
  t.equal(denied.status, 403)
  t.equal((denied.json() as { error: string }).error, 'path_forbidden')
  t.equal((await s.get('/api/20210901/connections')).status, 403, 'not in allowPaths')
  t.equal((await s.get('/api/20210901/snapshots?x=/secret')).status, 200, 'the query is not part of the path')
  t.equal(s.sim.stats().oacRequests, 3)
})

t.test('allowMethods on a named route, with the admin endpoints untouched', async (t) => {
  const s = await startStack(t, {
    file: (sim) => ({
      credentials: adminCredential(sim),
      routes: [{ prefix: '/idcs/', upstream: sim.idcsUrl, credential: 'admin', access: { allowMethods: ['GET'] } }],
    }),
  })
  t.equal((await s.get('/idcs/admin/v1/Apps')).status, 200)
  const patch = await request(`${s.url}/idcs/admin/v1/Apps/oac-sim-app`, { method: 'PATCH', body: '{}' })
  t.equal(patch.statusCode, 405)
  await patch.body.dump()
  const post = await request(`${s.url}/api/20210901/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'CREATE', name: 'x', password: 'Pw-12345678' }),
  })
  t.equal(post.statusCode, 202, 'the OAC route has no rules')
  await post.body.dump()
  t.equal((await s.get('/-/healthz')).status, 200)
})
