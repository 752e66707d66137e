// Scope and claim helpers shared by the login flows.
import { decodeJwt } from 'jose'

/** The scope with offline_access, without which no refresh token is issued. */
export function withOfflineAccess(scope: string): string {
  return scope.split(/\s+/).includes('offline_access') ? scope : `${scope} offline_access`.trim()
}

/** The `sub` claim of a JWT access token, if it is one. */
export function subjectOf(accessToken: string): string | undefined {
  try {
    const sub = decodeJwt(accessToken).sub
    return typeof sub === 'string' ? sub : undefined
  } catch {
    return undefined
  }
}
