// Header rewrites: what is never sent upstream, the token that is, and redirects mapped back through the route prefix.
import t from 'tap'
import { ADMIN_KEY_HEADER } from '../../src/shared/admin-path.js'
import {
  HOP_BY_HOP_REQUEST_HEADERS,
  droppedRequestHeaders,
  localLocation,
  upstreamRequestHeaders,
} from '../../src/proxy/headers.js'

t.test(
  'hop-by-hop headers, cookies, the caller authorization and the local keys are dropped; the token is set',
  async (t) => {
    const dropped = droppedRequestHeaders('x-local-key', ADMIN_KEY_HEADER)
    const headers: Record<string, unknown> = {
      accept: 'application/json',
      'content-type': 'application/json',
      cookie: 'session=1',
      authorization: 'Bearer local-key-value',
      'x-local-key': 'local-key-value',
      [ADMIN_KEY_HEADER]: 'admin-key-value',
      'x-request-id': 'r1',
    }
    for (const name of HOP_BY_HOP_REQUEST_HEADERS) headers[name] = 'v'
    const before = { ...headers }
    const out = upstreamRequestHeaders(headers, dropped, 'upstream-token')
    t.same(out, {
      accept: 'application/json',
      'content-type': 'application/json',
      'x-request-id': 'r1',
      authorization: 'Bearer upstream-token',
    })
    t.same(headers, before, 'the caller headers object is left as it was')
  },
)

t.test('the local key header is dropped whatever it is named', async (t) => {
  const out = upstreamRequestHeaders(
    { 'x-other': 'a', 'x-mine': 'b' },
    droppedRequestHeaders('x-mine', ADMIN_KEY_HEADER),
    't',
  )
  t.same(out, { 'x-other': 'a', authorization: 'Bearer t' })
})

t.test('a Location on the upstream origin goes back through the route prefix; any other stays', async (t) => {
  const origin = 'https://oac.example.com'
  const map = (location: unknown, prefix: string): unknown => localLocation({ location }, origin, prefix).location
  t.equal(map('https://oac.example.com/api/20210901/x', ''), '/api/20210901/x')
  t.equal(map('https://oac.example.com/api/20210901/x?y=1', '/oac'), '/oac/api/20210901/x?y=1')
  t.equal(
    map('https://oac.example.com.evil.example/api', ''),
    'https://oac.example.com.evil.example/api',
    'a longer host',
  )
  t.equal(map('https://other.example.com/api', ''), 'https://other.example.com/api')
  t.equal(map('/relative/path', '/oac'), '/relative/path')
  t.equal(map(undefined, '/oac'), undefined)
})
