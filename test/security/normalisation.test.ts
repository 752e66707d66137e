// One interpretation of the target: percent-encoded prefixes, // and ;params, case and method overrides cannot dodge the route rules.
import t, { type Test } from 'tap'
import { rawRequest } from './raw.js'
import { startStack, type Stack } from '../helpers.js'
import { guardedRoutes } from './routes-fixture.js'

/** A read-only route to OAC, an IDCS route that allows only GET /idcs/admin/v1/Apps[/...], and deny rules on the OAC route. */
async function stack(t: Test): Promise<Stack> {
  return startStack(t, {
    file: (sim) => guardedRoutes(sim, ['/idcs/admin/v1/Apps', '/idcs/admin/v1/Apps/*']),
  })
}

function send(s: Stack, method: string, target: string, headers: string[] = []): ReturnType<typeof rawRequest> {
  const body = method === 'GET' || method === 'DELETE' || method === 'HEAD' ? '' : '{}'
  const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${s.proxy.port}`, ...headers, 'Connection: close']
  if (body) lines.push('Content-Type: application/json', `Content-Length: ${body.length}`)
  return rawRequest(s.proxy.port, lines.join('\r\n') + '\r\n\r\n' + body)
}

/** Upstream calls (both simulated servers) since `before`, as "METHOD path". */
function upstreamSince(s: Stack, before: number): string[] {
  return s.sim.calls
    .slice(before)
    .filter((c) => !c.path.startsWith('/oauth2/'))
    .map((c) => `${c.method} ${c.path}`)
}

t.test('a percent-encoded route prefix gets that route, its rules and its normalised path', async (t) => {
  const s = await stack(t)
  const refused: Array<[string, string, number, string]> = [
    ['POST', '/%72o/api/20210901/snapshots', 405, 'method_forbidden'],
    ['DELETE', '/%72%6f/api/20210901/snapshots/x', 405, 'method_forbidden'],
    ['PUT', '/r%6f/api/20210901/snapshots/x', 405, 'method_forbidden'],
    ['GET', '/%69dcs/admin/v1/Users', 403, 'path_forbidden'],
    ['DELETE', '/%69dcs/admin/v1/Apps/u1', 405, 'method_forbidden'],
    ['PATCH', '/%69dcs/admin/v1/Apps/APP1', 405, 'method_forbidden'],
    ['GET', '/idc%73/admin/v1/Groups', 403, 'path_forbidden'],
    ['GET', '/%69%64%63%73/admin/v1/%55sers', 403, 'path_forbidden'],
    ['POST', '/%69dcs/admin/v1/Apps', 405, 'method_forbidden'],
  ]
  const before = s.sim.calls.length
  for (const [method, target, status, code] of refused) {
    const res = await send(s, method, target)
    t.equal(res.status, status, `${method} ${target}`)
    t.equal(res.error, code, `${method} ${target}`)
  }
  t.same(upstreamSince(s, before), [], 'nothing reached an upstream')

  // the same interpretation forwards the normalised path, with the route's own upstream and credential
  const ok = await send(s, 'GET', '/%72o/api/20210901/%73napshots')
  t.equal(ok.status, 200)
  const apps = await send(s, 'GET', '/%69dcs/admin/v1/%41pps')
  t.equal(apps.status, 200)
  t.same(upstreamSince(s, before), ['GET /api/20210901/snapshots', 'GET /admin/v1/Apps'])
})

t.test('deny globs see the normalised, case-folded path; x/** covers x', async (t) => {
  const s = await stack(t)
  const before = s.sim.calls.length
  const targets = [
    '/api/20210901/%63atalog/x',
    '/api/20210901/catalog%2Fx',
    '/api//20210901/catalog/x',
    '/api/20210901//catalog/x',
    '/api/20210901/catalog;x=1/y',
    '/api/20210901/catalog%3Bx=1/y',
    '/api/20210901/CATALOG/x',
    '/api/20210901/Catalog',
    '/api/20210901/catalog',
    '/api/20210901/catalog/',
    '/api/20210901/system',
    '/api/20210901/%53ystem/actions/restoreSnapshot',
  ]
  for (const target of targets) {
    for (const method of ['GET', 'DELETE']) {
      const res = await send(s, method, target)
      t.ok(res.status === 403 || res.status === 400, `${method} ${target} -> ${res.status} ${res.error}`)
      t.ok(res.error === 'path_forbidden' || res.error === 'path_refused', `${method} ${target}: ${res.error}`)
    }
  }
  t.same(upstreamSince(s, before), [], 'nothing reached OAC')
  const res = await send(s, 'GET', '/api//20210901/%73napshots')
  t.equal(res.status, 200, 'an allowed path in a non-normal form is forwarded')
  t.same(upstreamSince(s, before), ['GET /api/20210901/snapshots'], 'as its normal form')
})

t.test('method overrides are checked like the method on restricted routes', async (t) => {
  const s = await stack(t)
  const before = s.sim.calls.length
  const overrides = [
    ['X-HTTP-Method-Override: DELETE'],
    ['X-HTTP-Method: PUT'],
    ['X-Method-Override: patch'],
    ['X-HTTP-Method-Override: GET, DELETE'],
    ['X-HTTP-Method-Override: GET', 'X-HTTP-Method-Override: POST'],
  ]
  for (const headers of overrides) {
    for (const target of ['/ro/api/20210901/snapshots', '/idcs/admin/v1/Apps']) {
      const res = await send(s, 'GET', target, headers)
      t.equal(res.status, 405, `${headers.join(' + ')} on ${target}`)
      t.equal(res.error, 'method_forbidden')
    }
  }
  for (const query of ['_method=DELETE', '%5Fmethod=DELETE', '_METHOD=post', 'a=1&_method=PUT', 'a=1;_method=PATCH']) {
    const res = await send(s, 'GET', `/ro/api/20210901/snapshots?${query}`)
    t.equal(res.status, 405, query)
  }
  t.same(upstreamSince(s, before), [], 'nothing reached an upstream')
  const get = await send(s, 'GET', '/ro/api/20210901/snapshots', ['X-HTTP-Method-Override: GET'])
  t.equal(get.status, 200, 'an override to an allowed method passes')
  const plain = await send(s, 'POST', '/api/20210901/snapshots', ['X-HTTP-Method-Override: DELETE'])
  t.not(plain.status, 405, 'a route without method rules leaves the header alone')
})

t.test('with admin.port set, encoded admin prefixes answer on the proxy listener as /-/ does', async (t) => {
  const s = await startStack(t, { file: { admin: { port: 0 } } })
  const plain = await send(s, 'GET', '/-/status')
  t.equal(plain.status, 404)
  t.equal(plain.error, 'admin_not_found')
  const before = s.sim.calls.length
  for (const target of ['/%2d/status', '/%2D/metrics', '/%2d/', '/%2d/healthz', '/%2d/token', '//-/status']) {
    const res = await send(s, 'GET', target)
    t.equal(`${res.status} ${res.error}`, target.startsWith('//') ? '400 path_refused' : '404 admin_not_found', target)
    t.notMatch(res.body, /credentials|oac_proxy_/, `${target} shows no status or metrics`)
  }
  t.same(upstreamSince(s, before), [], 'nothing reached OAC')
})
