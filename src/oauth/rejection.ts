// Identity-provider refusals that need a person, as one code and one hint whichever command met them.
import { OAuthError, ProxyError } from '../shared/errors.js'

/** Where the refusal happened: a grant the proxy runs by itself, or an interactive sign-in (`login`). */
export type RejectionContext = 'refresh_token' | 'password' | 'jwt_bearer' | 'client_credentials' | 'login'

/** What an invalid_grant means for each grant that is not refresh_token. */
const REJECTED_GRANT_HINTS: Partial<Record<RejectionContext, [string, string]>> = {
  password: [
    'the user name or password was rejected (invalid_grant)',
    'Check username and password; federated (SSO) users cannot use the password grant: use jwt_bearer or a device login.',
  ],
  jwt_bearer: [
    'the JWT assertion was rejected (invalid_grant)',
    'Check username, that privateKey matches the certificate uploaded to the app, keyId (the certificate alias) or certificate, and assertionAudience (https://identity.oraclecloud.com/ or the domain URL).',
  ],
  client_credentials: ['the client credentials were rejected (invalid_grant)', 'Check the application and its scope.'],
  login: [
    'the sign-in code was rejected (invalid_grant): it was already used, or the redirect URL does not match',
    'Run login again; for --browser, set login.redirectPort and login.redirectPath to the redirect URL registered in the application.',
  ],
}

/** The hint for each client or scope refusal; the same for serve, token, login and doctor. */
const CLIENT_HINTS: Record<string, string> = {
  invalid_client:
    'Check clientId and clientSecret (with clientAuth: private_key_jwt, privateKey, keyId or certificate, and assertionAudience) against the application, that the application is activated, and clientAuth; then restart or run the command again.',
  unauthorized_client:
    'Check the grant types allowed for the application (Refresh Token; Device Code for login; the grant set in grant) and clientId; then restart or run the command again.',
  invalid_scope:
    "Check scope: the OAC application's primary audience immediately followed by urn:opc:resource:consumer::all, then offline_access (`oac-token-proxy doctor` discovers it); then restart or run the command again.",
  unsupported_grant_type:
    'Check the grant types allowed for the application and the grant setting; then restart or run the command again.',
  access_denied: 'Check that the user may use the application (its app roles and sign-on policy).',
}

/** The hint of a missing or rejected refresh token, where a login is the way out. */
export const LOGIN_REQUIRED_HINT =
  'Log in again: a running proxy starts a device login by itself (login.headless): approve the code it logs (login.device_code) or shows on its status page /-/. ' +
  'Without a running proxy, run `oac-token-proxy login` (or point refreshToken at a fresh tokens.json from the OAC profile page).'

/** The login_required hint of a proxy that runs no device login of its own (login.headless off, or login.method browser). */
export const LOGIN_STOP_PROXY_HINT =
  'Log in again: this proxy does not sign in by itself (login.headless is off, or login.method is browser). Stop it, run ' +
  '`oac-token-proxy login` with its configuration (login writes the state file the proxy holds), then start it again; ' +
  'or set login.headless: true and login.method: device, and the proxy shows a sign-in code in its log (login.device_code) and on its status page /-/.'

/** The same for a replica of a fleet (a shared store): a login from anywhere signs every replica in. */
export const LOGIN_FLEET_HINT =
  'Log in again: run `oac-token-proxy login` (or import a tokens.json) with this configuration on any machine that reaches ' +
  'the shared store; every replica adopts the sign-in, no restart. Or set login.headless: true and login.method: device, ' +
  'and a replica shows a sign-in code on its status page /-/.'

/** The hint while the proxy's own device login waits for someone to approve its code. */
export const LOGIN_WAITING_HINT =
  'A sign-in is waiting: the link and the code are in the log (event login.device_code) and on the status page /-/ of this proxy. ' +
  'Approve it on any device and the proxy serves at once; no restart.'

/**
 * A terminal OAuth error (one retrying cannot fix) as the error users see: `login_required` for a
 * refused refresh token, `login_failed` for a refused sign-in code, `credential_rejected` otherwise.
 * Anything else (passing trouble, errors already mapped) gives undefined.
 */
export function rejectionOf(err: unknown, context: RejectionContext): ProxyError | undefined {
  if (!(err instanceof OAuthError) || !err.isTerminal) return undefined
  if (err.oauthError === 'invalid_grant') {
    const rejected = REJECTED_GRANT_HINTS[context]
    if (context === 'login' && rejected) {
      return new ProxyError('login_failed', `${rejected[0]}: ${err.message}`, { cause: err, hint: rejected[1] })
    }
    if (rejected) {
      return new ProxyError('credential_rejected', `${rejected[0]}: ${err.message}`, { cause: err, hint: rejected[1] })
    }
    return new ProxyError(
      'login_required',
      'the refresh token was rejected (invalid_grant): it expired, was revoked or was already used',
      { cause: err, hint: LOGIN_REQUIRED_HINT },
    )
  }
  return new ProxyError('credential_rejected', `the identity provider rejected the credential: ${err.message}`, {
    cause: err,
    // the endpoint's own hint (e.g. which assertion audience the server wants) is the more precise one
    hint: err.hint ?? CLIENT_HINTS[err.oauthError] ?? CLIENT_HINTS.invalid_client,
  })
}

/** For `.catch()` on an interactive sign-in step: rethrows the refusal mapped, or the error unchanged. */
export function rethrowForLogin(err: unknown): never {
  throw rejectionOf(err, 'login') ?? err
}
