// The JWT user assertion grant (RFC 7523): every renewal signs a new assertion; no refresh token is needed.
import type { Clock } from '../../shared/clock.js'
import type { AssertionKey } from '../../config/types.js'
import { signAssertion } from '../assertion.js'
import { requestToken, type TokenEndpoint } from '../token-endpoint.js'
import type { Grant } from '../types.js'

export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

export interface JwtBearerOptions {
  clientId: string
  username: string
  key: AssertionKey
  scope: string
  clock?: Clock
}

export function jwtBearerGrant(endpoint: TokenEndpoint, options: JwtBearerOptions): Grant {
  return {
    name: 'jwt_bearer',
    needsRefreshToken: false,
    async run() {
      const assertion = await signAssertion(
        options.key,
        { sub: options.username, iss: options.clientId },
        options.clock,
      )
      return requestToken(endpoint, { grant_type: JWT_BEARER_GRANT_TYPE, assertion, scope: options.scope })
    },
  }
}
