// Builds one token manager per configured credential: client authentication + grant + shared store.
import type { Dispatcher } from 'undici'
import { idpAgentFor } from '../net/http-agent.js'
import type { Clock } from '../shared/clock.js'
import type { CredentialConfig, ProxyConfig } from '../config/types.js'
import type { Logger } from '../shared/log.js'
import type { ClientAuth } from '../oauth/client-auth.js'
import { clientCredentialsGrant } from '../oauth/grants/client-credentials.js'
import { jwtBearerGrant } from '../oauth/grants/jwt-bearer.js'
import { passwordGrant } from '../oauth/grants/password.js'
import { refreshTokenGrant } from '../oauth/grants/refresh-token.js'
import { LOGIN_FLEET_HINT, LOGIN_STOP_PROXY_HINT } from '../oauth/rejection.js'
import type { TokenEndpoint } from '../oauth/token-endpoint.js'
import type { Grant } from '../oauth/types.js'
import { TokenManager } from '../token/manager.js'
import { identityOf } from '../token/store/identity.js'
import type { TokenStore } from '../token/store/types.js'

export { DEFAULT_CREDENTIAL } from '../config/options.js'

export interface CredentialDeps {
  logger: Logger
  store: TokenStore
  clock?: Clock
  /** Dispatcher for calls to the identity provider (tests inject one). */
  idpDispatcher?: Dispatcher
  random?: () => number
  /** Wraps a credential's grant (a fleet's shared store refreshes through it). */
  wrapGrant?: (c: CredentialConfig, grant: Grant) => Grant
  /** True in serve: login_required then names the way this proxy signs in again (servingLoginHint). */
  serving?: boolean
}

/** Whether serve runs a device login by itself when a credential needs a sign-in (login.headless). */
export function signsInByItself(config: ProxyConfig): boolean {
  return config.login.headless && config.login.method === 'device'
}

/**
 * The login_required hint of a running proxy that does not sign in by itself: stop it and run login (its
 * lock keeps login out), or, for a fleet, log in from anywhere. Undefined: the default hint (its device login).
 */
export function servingLoginHint(config: ProxyConfig): string | undefined {
  if (signsInByItself(config)) return undefined
  return config.store ? LOGIN_FLEET_HINT : LOGIN_STOP_PROXY_HINT
}

export function clientAuthFor(c: CredentialConfig, clock?: Clock): ClientAuth {
  switch (c.clientAuth) {
    case 'client_secret_basic':
    case 'client_secret_post':
      // the config loader guarantees a secret for these methods
      return {
        method: c.clientAuth,
        clientId: c.clientId,
        clientSecret: c.clientSecret as NonNullable<typeof c.clientSecret>,
      }
    case 'private_key_jwt':
      return {
        method: 'private_key_jwt',
        clientId: c.clientId,
        key: c.assertionKey as NonNullable<typeof c.assertionKey>,
        ...(clock ? { clock } : {}),
      }
    case 'none':
      return { method: 'none', clientId: c.clientId }
  }
}

export function tokenEndpointFor(
  c: CredentialConfig,
  config: ProxyConfig,
  deps: Pick<CredentialDeps, 'clock' | 'idpDispatcher'>,
): TokenEndpoint {
  return {
    idcsUrl: c.idcsUrl,
    clientAuth: clientAuthFor(c, deps.clock),
    timeoutMs: config.token.idpTimeoutMs,
    // without one from the caller (the proxy passes its own), tls.caFile and HTTPS_PROXY still apply
    dispatcher: deps.idpDispatcher ?? idpAgentFor(config),
  }
}

export function grantFor(c: CredentialConfig, endpoint: TokenEndpoint, clock?: Clock): Grant {
  switch (c.grant) {
    case 'refresh_token':
      return refreshTokenGrant(endpoint)
    case 'password':
      return passwordGrant(endpoint, c.username as string, c.password as NonNullable<typeof c.password>, c.scope)
    case 'jwt_bearer':
      return jwtBearerGrant(endpoint, {
        clientId: c.clientId,
        username: c.username as string,
        key: c.assertionKey as NonNullable<typeof c.assertionKey>,
        scope: c.scope,
        ...(clock ? { clock } : {}),
      })
    case 'client_credentials':
      return clientCredentialsGrant(endpoint, c.scope)
  }
}

/** Binds the credential's state entry to its identity domain and client (throws state_mismatch for another's). */
export function claimCredential(store: TokenStore, c: Pick<CredentialConfig, 'name' | 'idcsUrl' | 'clientId'>): void {
  store.claim?.(identityOf(c.name, c.idcsUrl, c.clientId))
}

/** One manager per credential, by name; logs the warnings a grant deserves. */
export function createTokenManagers(config: ProxyConfig, deps: CredentialDeps): Map<string, TokenManager> {
  const managers = new Map<string, TokenManager>()
  for (const c of config.credentials) {
    const routedToOac = config.routes.some((r) => r.credential === c.name && r.upstream === config.oacUrl)
    if (c.grant === 'password') {
      deps.logger.warn(
        { event: 'grant.password_deprecated', credential: c.name },
        'the password grant is deprecated by the OAuth security BCP and fails for federated (SSO) users; prefer jwt_bearer or a device login',
      )
    }
    if (c.grant === 'client_credentials' && routedToOac) {
      deps.logger.warn(
        { event: 'grant.client_credentials_for_oac', credential: c.name },
        'OAC rejects client-credentials tokens (they carry no user); use them for IDCS admin or My Services routes',
      )
    }
    if (!routedToOac && !config.routes.some((r) => r.credential === c.name)) continue
    claimCredential(deps.store, c)
    const endpoint = tokenEndpointFor(c, config, deps)
    const grant = grantFor(c, endpoint, deps.clock)
    managers.set(
      c.name,
      new TokenManager({
        name: c.name,
        grant: deps.wrapGrant ? deps.wrapGrant(c, grant) : grant,
        store: deps.store,
        settings: config.token,
        logger: deps.logger,
        bootstrapRefreshToken: c.grant === 'refresh_token' ? c.refreshToken : undefined,
        loginHint: deps.serving ? servingLoginHint(config) : undefined,
        ...(deps.clock ? { clock: deps.clock } : {}),
        ...(deps.random ? { random: deps.random } : {}),
      }),
    )
  }
  return managers
}
