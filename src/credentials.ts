// Builds the token manager for the configured credential: client authentication + grant + store.
import type { Dispatcher } from 'undici'
import type { Clock } from './clock.js'
import type { ProxyConfig } from './config/types.js'
import type { Logger } from './log.js'
import type { ClientAuth } from './oauth/client-auth.js'
import { refreshTokenGrant } from './oauth/grants/refresh-token.js'
import { TokenManager } from './token/manager.js'
import type { TokenStore } from './token/store.js'

export const DEFAULT_CREDENTIAL = 'default'

export interface CredentialDeps {
  logger: Logger
  store: TokenStore
  clock?: Clock
  /** Dispatcher for calls to the identity provider (tests inject one). */
  idpDispatcher?: Dispatcher
  random?: () => number
}

export function clientAuthFor(config: ProxyConfig): ClientAuth {
  return config.clientSecret
    ? { method: 'client_secret_basic', clientId: config.clientId, clientSecret: config.clientSecret }
    : { method: 'none', clientId: config.clientId }
}

export function createTokenManager(config: ProxyConfig, deps: CredentialDeps): TokenManager {
  const grant = refreshTokenGrant({
    idcsUrl: config.idcsUrl,
    clientAuth: clientAuthFor(config),
    timeoutMs: config.token.idpTimeoutMs,
    ...(deps.idpDispatcher ? { dispatcher: deps.idpDispatcher } : {}),
  })
  return new TokenManager({
    name: DEFAULT_CREDENTIAL,
    grant,
    store: deps.store,
    settings: config.token,
    logger: deps.logger,
    bootstrapRefreshToken: config.refreshToken,
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.random ? { random: deps.random } : {}),
  })
}
