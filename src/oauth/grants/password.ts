// The resource owner password grant: deprecated by the OAuth BCP and refused for federated users; for scripted installs.
import type { Secret } from '../../shared/secret.js'
import { requestToken, type TokenEndpoint } from '../token-endpoint.js'
import type { Grant } from '../types.js'

export function passwordGrant(endpoint: TokenEndpoint, username: string, password: Secret, scope: string): Grant {
  return {
    name: 'password',
    needsRefreshToken: false,
    run: () => requestToken(endpoint, { grant_type: 'password', username, password: password.reveal(), scope }),
  }
}
