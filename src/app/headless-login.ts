// Headless first login: while serve runs without a usable refresh token, a device login is kept going by itself.
import type { Clock } from '../shared/clock.js'
import type { CredentialConfig, ProxyConfig } from '../config/types.js'
import { tokenEndpointFor } from './managers.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { noRefreshTokenError, subjectOf, withOfflineAccess } from '../oauth/scope.js'
import { pollDeviceToken, startDeviceAuthorization } from '../oauth/login/device.js'
import type { TokenManager } from '../token/manager.js'
import type { Dispatcher } from 'undici'

/** Pause before a new device code after a refusal or an error (an expired code is renewed at once). */
export const HEADLESS_RETRY_MS = 30_000

export interface HeadlessLogin {
  stop(): void
}

export interface HeadlessDeps {
  logger: Logger
  clock: Clock
  idpDispatcher?: Dispatcher
}

/** Watches the manager; whenever it needs a login, runs device logins until one succeeds or stop() is called. */
export function watchForLogin(
  manager: TokenManager,
  credential: CredentialConfig,
  config: ProxyConfig,
  deps: HeadlessDeps,
): HeadlessLogin {
  const log = deps.logger.child({ credential: credential.name })
  const abort = new AbortController()
  let running = false
  const endpoint = tokenEndpointFor(credential, config, {
    clock: deps.clock,
    ...(deps.idpDispatcher ? { idpDispatcher: deps.idpDispatcher } : {}),
  })
  const scope = withOfflineAccess(credential.scope)

  // resolves early when the login is stopped; the abort listener goes with each wait (no pile-up over retries)
  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        deps.clock.clearTimeout(timer)
        abort.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = deps.clock.setTimeout(done, ms)
      abort.signal.addEventListener('abort', done, { once: true })
    })

  async function run(): Promise<void> {
    if (running) return
    running = true
    try {
      while (!abort.signal.aborted && manager.health === 'login_required') {
        try {
          const auth = await startDeviceAuthorization(endpoint, scope)
          manager.setPendingLogin({
            userCode: auth.userCode,
            verificationUri: auth.verificationUri,
            ...(auth.verificationUriComplete ? { verificationUriComplete: auth.verificationUriComplete } : {}),
            expiresAtMs: deps.clock.now() + auth.expiresInS * 1000,
          })
          log.warn(
            {
              event: 'login.device_code',
              verificationUri: auth.verificationUri,
              userCode: auth.userCode,
              expiresInS: auth.expiresInS,
              hint: 'Approve the code on any device (it is also on the status page /-/); the proxy serves as soon as it is approved, no restart.',
            },
            `sign-in needed: visit ${auth.verificationUri} and enter the code ${auth.userCode}`,
          )
          const tokens = await pollDeviceToken(endpoint, auth, { clock: deps.clock, signal: abort.signal })
          const answeredAtMs = deps.clock.now()
          manager.setPendingLogin(undefined)
          if (!tokens.refreshToken) throw noRefreshTokenError(scope, tokens)
          // the login's own access token is served: no extra refresh (and rotation) right after it
          await manager.adoptLoginTokens(tokens, answeredAtMs, subjectOf(tokens.accessToken))
          log.info({ event: 'login.succeeded' }, 'signed in; serving')
          return
        } catch (err) {
          manager.setPendingLogin(undefined)
          if (abort.signal.aborted) return
          const code = (err as ProxyError).code
          if (code === 'login_expired') {
            log.warn({ event: 'login.expired' }, 'the device code expired; issuing a new one')
            continue
          }
          log.error({ event: 'login.failed', err }, 'headless sign-in failed; trying again shortly')
          await wait(HEADLESS_RETRY_MS)
        }
      }
    } finally {
      running = false
    }
  }

  const onFailure = (): void => {
    if (manager.health === 'login_required') void run()
  }
  manager.on('refresh_failed', onFailure)
  onFailure()
  return {
    stop() {
      abort.abort()
      manager.off('refresh_failed', onFailure)
      manager.setPendingLogin(undefined)
    },
  }
}
