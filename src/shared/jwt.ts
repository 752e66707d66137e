// Reads the claims of a JWT without verifying it, for what the proxy only displays or schedules by (exp, sub,
// scope of a token the identity domain just issued). Signing stays with jose (oauth/assertion.ts), loaded only
// when a credential signs assertions: jose's entry is 46 ES modules and the Web Crypto set-up, about 7 MB
// resident that a proxy with a client secret never needs.

/** The claims of a compact JWS (three base64url parts, a JSON object in the middle); throws when it is none. */
export function jwtClaims(token: string): Record<string, unknown> {
  const parts = token.split('.')
  if (parts.length !== 3 || parts[1] === '') throw new TypeError('not a JWT: expected three dot-separated parts')
  let claims: unknown
  try {
    claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'))
  } catch {
    throw new TypeError('not a JWT: the payload is not base64url-encoded JSON')
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new TypeError('not a JWT: the payload is not a JSON object')
  }
  return claims as Record<string, unknown>
}
