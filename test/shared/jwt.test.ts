// shared/jwt.ts: the claims of a JWT, read as jose's decodeJwt reads them.
import t from 'tap'
import { generateKeyPair, SignJWT, decodeJwt } from 'jose'
import { jwtClaims } from '../../src/shared/jwt.js'

t.test('reads the claims jose signed, as jose reads them', async (t) => {
  const { privateKey } = await generateKeyPair('RS256')
  const claims = { sub: 'analyst@example.com', scope: 'urn:opc:resource:consumer::all', exp: 1_800_000_000, n: 'é✓' }
  const jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(privateKey)
  t.same(jwtClaims(jwt), decodeJwt(jwt))
  t.same(jwtClaims(jwt), claims)
})

t.test('refuses what is not a JWT with a named reason', async (t) => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const cases: Array<[string, RegExp]> = [
    ['opaque-access-token', /three dot-separated parts/],
    ['a.b', /three dot-separated parts/],
    ['a.b.c.d', /three dot-separated parts/],
    [`${b64({})}..sig`, /three dot-separated parts/],
    [`${b64({})}.not json!.sig`, /base64url-encoded JSON/],
    [`${b64({})}.${b64([1, 2])}.sig`, /not a JSON object/],
    [`${b64({})}.${b64('text')}.sig`, /not a JSON object/],
    [`${b64({})}.${b64(null)}.sig`, /not a JSON object/],
  ]
  for (const [token, message] of cases) {
    t.throws(() => jwtClaims(token), { name: 'TypeError', message }, token)
    t.throws(() => decodeJwt(token), `jose refuses ${token} too`)
  }
})
