// The client credentials grant: tokens for the application itself (IDCS admin, My Services); OAC rejects them.
import { requestToken, type TokenEndpoint } from '../token-endpoint.js'
import type { Grant } from '../types.js'

export function clientCredentialsGrant(endpoint: TokenEndpoint, scope: string): Grant {
  return {
    name: 'client_credentials',
    needsRefreshToken: false,
    run: () => requestToken(endpoint, { grant_type: 'client_credentials', scope }),
  }
}
