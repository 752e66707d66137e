// The access guard pipeline: its checks run in one fixed order, so a request failing several gets the first one's answer.
import t from 'tap'
import { GUARD_CHECKS } from '../../src/proxy/guard-checks.js'
import { startStack } from '../helpers.js'
import { rawRequest } from '../security/raw.js'

const KEY = 'g'.repeat(32)
const API = '/api/20210901/snapshots'
const ALLOWED_ORIGIN = 'http://app.example'

const raw = (line: string, headers: string[]): string => [line, ...headers, 'Connection: close', '', ''].join('\r\n')

t.test('the checks, in the order they run', async (t) => {
  t.same(
    GUARD_CHECKS.map((check) => check.name),
    [
      'targetIsPath',
      'methodKnown',
      'hostAllowed',
      'safePath',
      'normalisedPath',
      'allowedOrigin',
      'notCrossSite',
      'corsHeaders',
      'localKey',
      'routeRules',
    ],
  )
})

t.test('a request failing this check and every later one gets this check answer', async (t) => {
  const s = await startStack(t, {
    files: () => ({ keys: `${KEY}\n` }),
    file: { security: { localKeysFile: 'keys', allowedOrigins: [ALLOWED_ORIGIN] }, access: { readOnly: true } },
  })
  const foreign = ['Host: evil.example', 'Origin: http://evil.example', 'Sec-Fetch-Site: cross-site']
  const local = ['Host: localhost', 'Origin: http://evil.example', 'Sec-Fetch-Site: cross-site']
  const cases: { name: string; bytes: string; status: number; error: string | undefined; message?: RegExp }[] = [
    {
      name: 'absolute form',
      bytes: raw('TRACE http://evil.example/../x HTTP/1.1', foreign),
      status: 400,
      error: 'absolute_form_refused',
    },
    {
      name: 'unknown method',
      bytes: raw('TRACE /api/../x;p HTTP/1.1', foreign),
      status: 405,
      error: 'method_forbidden',
    },
    { name: 'foreign Host', bytes: raw('POST /api/../x;p HTTP/1.1', foreign), status: 421, error: 'host_not_allowed' },
    {
      name: 'dot-segment',
      bytes: raw('POST /api/../x;p HTTP/1.1', local),
      status: 400,
      error: 'path_refused',
      message: /dot-segments/,
    },
    {
      name: ';parameter',
      bytes: raw('POST /api;p/x HTTP/1.1', local),
      status: 400,
      error: 'path_refused',
      message: /;parameters/,
    },
    { name: 'foreign Origin', bytes: raw(`POST ${API} HTTP/1.1`, local), status: 403, error: 'origin_not_allowed' },
    {
      name: 'cross-site',
      bytes: raw(`POST ${API} HTTP/1.1`, ['Host: localhost', 'Sec-Fetch-Site: cross-site']),
      status: 403,
      error: 'cross_site_refused',
    },
    {
      name: 'preflight from an allowed origin, without a key',
      bytes: raw(`OPTIONS ${API} HTTP/1.1`, [
        'Host: localhost',
        `Origin: ${ALLOWED_ORIGIN}`,
        'Access-Control-Request-Method: POST',
      ]),
      status: 204,
      error: undefined,
    },
    {
      name: 'no local key',
      bytes: raw(`POST ${API} HTTP/1.1`, ['Host: localhost']),
      status: 401,
      error: 'local_key_required',
    },
    {
      name: 'a write on a read-only route',
      bytes: raw(`POST ${API} HTTP/1.1`, ['Host: localhost', `Authorization: Bearer ${KEY}`, 'Content-Length: 0']),
      status: 405,
      error: 'method_forbidden',
      message: /read-only route/,
    },
  ]
  for (const c of cases) {
    const answer = await rawRequest(s.proxy.port, c.bytes)
    t.equal(answer.status, c.status, `${c.name}: status`)
    t.equal(answer.error, c.error, `${c.name}: code`)
    if (c.message) t.match(answer.body, c.message, `${c.name}: message`)
  }
  t.equal(s.sim.stats().oacRequests, 0, 'nothing refused reached OAC')
  const allowed = await rawRequest(
    s.proxy.port,
    raw(`GET ${API} HTTP/1.1`, ['Host: localhost', `Authorization: Bearer ${KEY}`]),
  )
  t.equal(allowed.status, 200, 'a request passing every check is forwarded')
  t.equal(s.sim.stats().oacRequests, 1)
})
