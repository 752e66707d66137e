// The refresh_token grant: trades the newest refresh token for an access token and a rotated refresh token.
import { ProxyError } from '../../shared/errors.js'
import { LOGIN_REQUIRED_HINT } from '../rejection.js'
import { requestToken, type TokenEndpoint } from '../token-endpoint.js'
import type { Grant } from '../types.js'

export function refreshTokenGrant(endpoint: TokenEndpoint): Grant {
  return {
    name: 'refresh_token',
    needsRefreshToken: true,
    async run(ctx) {
      if (!ctx.refreshToken) {
        throw new ProxyError('login_required', 'no refresh token is available', {
          hint: LOGIN_REQUIRED_HINT,
        })
      }
      // the server may rotate the refresh token before a slow answer arrives: the call is never cut short
      // by the usual timeout, only by the manager's signal (token.refreshAnswerTimeoutSeconds)
      return requestToken(
        endpoint,
        { grant_type: 'refresh_token', refresh_token: ctx.refreshToken },
        { patient: true, ...(ctx.signal ? { signal: ctx.signal } : {}) },
      )
    },
  }
}
