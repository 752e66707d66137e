// Scope helpers shared by the login flows.

/** The scope with offline_access, without which no refresh token is issued. */
export function withOfflineAccess(scope: string): string {
  return scope.split(/\s+/).includes('offline_access') ? scope : `${scope} offline_access`.trim()
}
