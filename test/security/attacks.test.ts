// One regression test per attack: each is refused with its status and stable code, and OAC sees nothing.
import t, { type Test } from 'tap'
import { request } from 'undici'
import { registerSecret, startStack, type Stack } from '../helpers.js'
import { rawRequest } from './raw.js'

const KEY = 'local-key-0123456789abcdef0123456789'
registerSecret(KEY)

async function expectRefused(
  t: Test,
  s: Stack,
  bytes: string,
  status: number,
  code: string | undefined,
): Promise<void> {
  const before = s.sim.stats().oacRequests
  const answer = await rawRequest(s.proxy.port, bytes)
  t.equal(answer.status, status, 'status')
  t.equal(answer.error, code, 'error code')
  t.equal(s.sim.stats().oacRequests, before, 'nothing reached OAC')
}

const get = (path: string, headers: string[] = []): string =>
  [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...headers, 'Connection: close', '', ''].join('\r\n')

t.test('attacks on the default (loopback, no key) configuration', async (t) => {
  const s = await startStack(t)

  t.test('foreign Host (DNS rebinding: attacker.example resolving to 127.0.0.1)', (t) =>
    expectRefused(
      t,
      s,
      'GET /api/20210901/snapshots HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n',
      421,
      'host_not_allowed',
    ),
  )
  t.test('rebinding with a port and a look-alike name', (t) =>
    expectRefused(
      t,
      s,
      'GET /api/20210901/snapshots HTTP/1.1\r\nHost: localhost.attacker.example:8787\r\nConnection: close\r\n\r\n',
      421,
      'host_not_allowed',
    ),
  )
  t.test('missing Host', (t) =>
    expectRefused(t, s, 'GET /api/20210901/snapshots HTTP/1.0\r\n\r\n', 421, 'host_not_allowed'),
  )
  t.test('cross-site HTML form POST', (t) =>
    expectRefused(
      t,
      s,
      [
        'POST /api/20210901/snapshots HTTP/1.1',
        'Host: 127.0.0.1',
        'Origin: https://evil.example',
        'Sec-Fetch-Site: cross-site',
        'Sec-Fetch-Mode: navigate',
        'Content-Type: application/x-www-form-urlencoded',
        'Content-Length: 11',
        'Connection: close',
        '',
        'type=CREATE',
      ].join('\r\n'),
      403,
      'origin_not_allowed',
    ),
  )
  t.test('fetch() from a page with a foreign Origin', (t) =>
    expectRefused(
      t,
      s,
      get('/api/20210901/snapshots', ['Origin: http://localhost:3000', 'Sec-Fetch-Site: same-site']),
      403,
      'origin_not_allowed',
    ),
  )
  t.test('Sec-Fetch-Site cross-site without Origin (a GET navigation)', (t) =>
    expectRefused(t, s, get('/api/20210901/snapshots', ['Sec-Fetch-Site: cross-site']), 403, 'cross_site_refused'),
  )
  t.test('Origin: null (sandboxed iframe, file://)', (t) =>
    expectRefused(t, s, get('/api/20210901/snapshots', ['Origin: null']), 403, 'origin_not_allowed'),
  )
  t.test('CORS preflight is not granted', async (t) => {
    const before = s.sim.stats().oacRequests
    const answer = await rawRequest(
      s.proxy.port,
      get('/api/20210901/snapshots', ['Origin: https://evil.example', 'Access-Control-Request-Method: DELETE']).replace(
        'GET',
        'OPTIONS',
      ),
    )
    t.equal(answer.status, 403)
    t.equal(answer.headers['access-control-allow-origin'], undefined)
    t.equal(s.sim.stats().oacRequests, before)
  })
  t.test('absolute-form URL to another host', (t) =>
    expectRefused(
      t,
      s,
      'GET http://attacker.example/steal HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n',
      400,
      'absolute_form_refused',
    ),
  )
  t.test('absolute-form URL with an allowed Host', (t) =>
    expectRefused(
      t,
      s,
      'GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      400,
      'absolute_form_refused',
    ),
  )
  t.test('CONNECT tunnel', (t) =>
    expectRefused(
      t,
      s,
      'CONNECT attacker.example:443 HTTP/1.1\r\nHost: attacker.example:443\r\n\r\n',
      405,
      'connect_refused',
    ),
  )
  t.test('WebSocket upgrade', (t) =>
    expectRefused(
      t,
      s,
      get('/api/20210901/snapshots', [
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
      ]).replace('Connection: close\r\n', ''),
      403,
      'upgrade_refused',
    ),
  )
  for (const path of [
    '/api/20210901/../../admin',
    '/api/20210901/%2e%2e/x',
    '/api/%2E%2e/x',
    '/api/20210901%2f..%2fx',
    '/api\\..\\x',
    '/api/./x',
    '/api/x%00',
  ]) {
    t.test(`path escape ${path}`, (t) => expectRefused(t, s, get(path), 400, 'path_refused'))
  }
  t.test('CR/LF injected into a header value', (t) =>
    expectRefused(
      t,
      s,
      'GET /api/20210901/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\rInjected: b\r\nConnection: close\r\n\r\n',
      400,
      'bad_request',
    ),
  )
  t.test('oversized headers', (t) =>
    expectRefused(t, s, get('/api/20210901/snapshots', [`X-Big: ${'a'.repeat(20_000)}`]), 431, 'header_too_large'),
  )
  t.test('request smuggling: Content-Length with Transfer-Encoding', (t) =>
    expectRefused(
      t,
      s,
      'POST /api/20210901/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/20210901/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      400,
      'bad_request',
    ),
  )
  t.test('request smuggling: two different Content-Length headers', (t) =>
    expectRefused(
      t,
      s,
      'POST /api/20210901/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd',
      400,
      'bad_request',
    ),
  )
  t.test('Host with userinfo or trailing junk', async (t) => {
    for (const host of ['localhost:80@evil.example', 'localhost:evil.example', '[::1].attacker.example']) {
      const bytes = `GET /api/20210901/snapshots HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`
      await expectRefused(t, s, bytes, 421, 'host_not_allowed')
    }
  })
  t.test('two Host headers', (t) =>
    expectRefused(
      t,
      s,
      'GET /api/20210901/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n',
      421,
      'host_not_allowed',
    ),
  )
  t.test('HTTP/1.1 without Host gets the JSON refusal too', (t) =>
    expectRefused(t, s, 'GET /api/20210901/snapshots HTTP/1.1\r\nConnection: close\r\n\r\n', 421, 'host_not_allowed'),
  )
  t.test('TRACE and WebDAV methods', async (t) => {
    for (const method of ['TRACE', 'PROPFIND', 'MKCOL']) {
      await expectRefused(t, s, get('/api/20210901/snapshots').replace('GET', method), 405, 'method_forbidden')
    }
    // not an HTTP method at all: the parser refuses it
    await expectRefused(t, s, get('/api/20210901/snapshots').replace('GET', 'FOO'), 400, 'bad_request')
  })
  t.test('bad percent-encoding gets a stable code', (t) =>
    expectRefused(t, s, get('/api/20210901/%zz'), 400, 'bad_request'),
  )
  t.test('a /..;/ segment', (t) => expectRefused(t, s, get('/api/20210901/..;/x'), 400, 'path_refused'))
  t.test('a malformed chunked body never reaches OAC', (t) =>
    expectRefused(
      t,
      s,
      'POST /api/20210901/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n2\r\n{}\r\n2\r\nhello\r\n0\r\n\r\n',
      400,
      'bad_request',
    ),
  )
  t.test('Expect: 100-continue uploads work (and are answered by the proxy)', async (t) => {
    const body = JSON.stringify({ type: 'CREATE', name: 'expect', password: 'Pw-12345678' })
    const answer = await rawRequest(
      s.proxy.port,
      `POST /api/20210901/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${body}`,
    )
    t.equal(answer.status, 202)
  })
  t.test('a foreign Host with Expect: 100-continue gets no 100 Continue', async (t) => {
    const answer = await rawRequest(
      s.proxy.port,
      'POST /api/20210901/snapshots HTTP/1.1\r\nHost: attacker.example\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
    )
    t.equal(answer.status, 421)
  })
  t.test('the same-origin page of the proxy itself is allowed', async (t) => {
    const res = await request(`${s.url}/-/status`, { headers: { origin: s.url, 'sec-fetch-site': 'same-origin' } })
    t.equal(res.statusCode, 200)
    await res.body.dump()
  })
  t.test('plain requests still work after all that', async (t) => {
    t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  })
  t.end()
})

t.test('local keys', async (t) => {
  const s = await startStack(t, {
    files: () => ({ keys: `# callers\n${KEY}\n` }),
    file: { security: { localKeysFile: 'keys' } },
  })
  t.test('no key: 401 with WWW-Authenticate, nothing forwarded', async (t) => {
    const answer = await rawRequest(s.proxy.port, get('/api/20210901/snapshots'))
    t.equal(answer.status, 401)
    t.equal(answer.error, 'local_key_required')
    t.match(answer.headers['www-authenticate'], /^Bearer realm=/)
    t.equal(s.sim.stats().oacRequests, 0)
  })
  t.test('a wrong key, a Basic header, a key with a suffix: 401', async (t) => {
    for (const auth of [
      `Bearer ${KEY}x`,
      `Basic ${Buffer.from(`u:${KEY}`).toString('base64')}`,
      `Bearer ${KEY.slice(0, -1)}`,
      KEY,
    ]) {
      const answer = await rawRequest(s.proxy.port, get('/api/20210901/snapshots', [`Authorization: ${auth}`]))
      t.equal(answer.status, 401, auth.slice(0, 12))
    }
    t.equal(s.sim.stats().oacRequests, 0)
  })
  t.test('the right key is swapped for the real token', async (t) => {
    const res = await s.get('/api/20210901/sim/echo', { authorization: `Bearer ${KEY}` })
    t.equal(res.status, 200)
    t.equal((res.json() as { tokenSub: string }).tokenSub, s.sim.user)
  })
  t.test('probes need no key; status does', async (t) => {
    t.equal((await s.get('/-/healthz')).status, 200)
    t.equal((await s.get('/-/readyz')).status, 200)
    t.equal((await s.get('/-/status')).status, 401)
  })
  t.test('the key never reaches the log', async (t) => {
    t.notOk(s.logs.text().includes(KEY))
  })
  t.end()
})

t.test('a local key in a custom header is removed before forwarding', async (t) => {
  const s = await startStack(t, {
    files: () => ({ keys: `${KEY}\n` }),
    file: { security: { localKeysFile: 'keys', localKeyHeader: 'X-Proxy-Key' } },
  })
  const res = await s.get('/api/20210901/sim/echo', { 'x-proxy-key': KEY })
  t.equal(res.status, 200)
  t.equal((res.json() as { headers: Record<string, string> }).headers['x-proxy-key'], undefined)
  t.equal((await s.get('/api/20210901/sim/echo', { authorization: `Bearer ${KEY}` })).status, 401)
})

t.test('allowed origins get CORS, others do not', async (t) => {
  const s = await startStack(t, { file: { security: { allowedOrigins: ['https://dashboard.example.com'] } } })
  const pre = await request(`${s.url}/api/20210901/snapshots`, {
    method: 'OPTIONS',
    headers: { origin: 'https://dashboard.example.com', 'access-control-request-method': 'GET' },
  })
  t.equal(pre.statusCode, 204)
  t.equal(pre.headers['access-control-allow-origin'], 'https://dashboard.example.com')
  await pre.body.dump()
  const res = await s.get('/api/20210901/snapshots', {
    origin: 'https://dashboard.example.com',
    'sec-fetch-site': 'cross-site',
  })
  t.equal(res.status, 200)
  t.equal(res.headers['access-control-allow-origin'], 'https://dashboard.example.com')
  t.equal(s.sim.stats().oacRequests, 1, 'the preflight itself is never forwarded')
})

t.test('allowed hosts extend the Host check', async (t) => {
  const s = await startStack(t, { file: { security: { allowedHosts: ['oac-proxy.internal'] } } })
  const ok = await rawRequest(
    s.proxy.port,
    'GET /api/20210901/snapshots HTTP/1.1\r\nHost: oac-proxy.internal:8787\r\nConnection: close\r\n\r\n',
  )
  t.equal(ok.status, 200)
})
