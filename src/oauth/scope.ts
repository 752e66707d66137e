// Scope and claim helpers shared by the login flows.
import { jwtClaims } from '../shared/jwt.js'
import { ProxyError } from '../shared/errors.js'
import type { TokenSet } from './types.js'

/** The scope with offline_access, without which no refresh token is issued. */
export function withOfflineAccess(scope: string): string {
  return scope.split(/\s+/).includes('offline_access') ? scope : `${scope} offline_access`.trim()
}

/** The `sub` claim of a JWT access token, if it is one. */
export function subjectOf(accessToken: string): string | undefined {
  try {
    const sub = jwtClaims(accessToken).sub
    return typeof sub === 'string' ? sub : undefined
  } catch {
    return undefined
  }
}

/**
 * A login answered without a refresh token: the possible causes, most likely first. `prompt` is what
 * the browser login sent (undefined for a device login, which sends none).
 */
export function noRefreshTokenError(requestedScope: string, tokens: TokenSet, prompt?: 'consent' | 'omit'): ProxyError {
  const causes = ['the application does not allow the Refresh Token grant (enable it in the identity domain console)']
  if (prompt === 'omit') {
    causes.push(
      'offline access was not consented: a server following OpenID Connect Core 11 grants it only with prompt=consent (set login.prompt to consent)',
    )
  } else {
    causes.push(
      'offline access (offline_access) was not granted to this user or application (consent refused, or refresh tokens not allowed for the resource)',
    )
  }
  const granted = tokens.scope
  if (granted !== undefined && !granted.split(/\s+/).includes('offline_access')) {
    causes.push(
      `the server granted the scope "${granted}" without offline_access (check the scopes the application may request)`,
    )
  } else if (!requestedScope.split(/\s+/).includes('offline_access')) {
    causes.push('the scope asked for lacks offline_access')
  }
  return new ProxyError('no_refresh_token', 'the identity domain signed you in but returned no refresh token', {
    hint: `Possible causes: ${causes.join('; ')}. Fix that, then run login again.`,
  })
}
