// Headless first login: while serve runs without a usable refresh token, a device login is kept going by itself.
import type { Clock } from '../shared/clock.js'
import type { CredentialConfig, ProxyConfig } from '../config/types.js'
import { tokenEndpointFor } from './managers.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { noRefreshTokenError, subjectOf, withOfflineAccess } from '../oauth/scope.js'
import { pollDeviceToken, startDeviceAuthorization, type DeviceAuthorization } from '../oauth/login/device.js'
import type { TokenEndpoint } from '../oauth/token-endpoint.js'
import type { PendingLogin, TokenManager } from '../token/manager.js'
import type { Dispatcher } from 'undici'

/** Pause before a new device code after a refusal or an error (an expired code is renewed at once). */
export const HEADLESS_RETRY_MS = 30_000

export interface HeadlessLogin {
  stop(): void
}

/** How often a replica looks again while another replica of the fleet runs the login. */
export const FLEET_LOGIN_POLL_MS = 5_000

/** A fleet's login turn (the shared store): one replica runs the device login, the others show its code. */
export interface LoginCoordinator {
  /** The login another replica runs, if any. */
  current(): Promise<PendingLogin | undefined>
  /** Takes the turn for this login (false: another replica took it first). */
  claim(login: PendingLogin): Promise<boolean>
  release(): Promise<void>
}

export interface HeadlessDeps {
  logger: Logger
  clock: Clock
  idpDispatcher?: Dispatcher
  coordinator?: LoginCoordinator
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
  const attempt: DeviceLoginAttempt = {
    manager,
    endpoint: tokenEndpointFor(credential, config, {
      clock: deps.clock,
      ...(deps.idpDispatcher ? { idpDispatcher: deps.idpDispatcher } : {}),
    }),
    scope: withOfflineAccess(credential.scope),
    log,
    clock: deps.clock,
    signal: abort.signal,
    ...(deps.coordinator ? { coordinator: deps.coordinator } : {}),
  }

  async function run(): Promise<void> {
    if (running) return
    running = true
    try {
      while (!abort.signal.aborted && manager.health === 'login_required') {
        try {
          if (await deviceLogin(attempt)) return
          // another replica runs the fleet's login: look again shortly (its result arrives by the store)
          await abortableWait(deps.clock, abort.signal, FLEET_LOGIN_POLL_MS)
        } catch (err) {
          manager.setPendingLogin(undefined)
          if (abort.signal.aborted) return
          const code = (err as ProxyError).code
          if (code === 'login_expired') {
            log.warn({ event: 'login.expired' }, 'the device code expired; issuing a new one')
            continue
          }
          log.error({ event: 'login.failed', err }, 'headless sign-in failed; trying again shortly')
          await abortableWait(deps.clock, abort.signal, HEADLESS_RETRY_MS)
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

/** What one device login works with. */
interface DeviceLoginAttempt {
  manager: TokenManager
  endpoint: TokenEndpoint
  scope: string
  log: Logger
  clock: Clock
  signal: AbortSignal
  coordinator?: LoginCoordinator
}

/**
 * One device login: a code shown (in the log and on the status page), polled until approved, the tokens handed to the
 * manager. In a fleet, only the replica that takes the login turn runs it; false when another replica runs it (its
 * code is shown here too).
 */
async function deviceLogin(a: DeviceLoginAttempt): Promise<boolean> {
  const other = await a.coordinator?.current()
  if (other) {
    a.manager.setPendingLogin(other)
    return false
  }
  const auth = await startDeviceAuthorization(a.endpoint, a.scope)
  const pending: PendingLogin = {
    userCode: auth.userCode,
    verificationUri: auth.verificationUri,
    ...(auth.verificationUriComplete ? { verificationUriComplete: auth.verificationUriComplete } : {}),
    expiresAtMs: a.clock.now() + auth.expiresInS * 1000,
  }
  if (a.coordinator && !(await a.coordinator.claim(pending))) return false
  try {
    await runDeviceLogin(a, auth, pending)
  } finally {
    await a.coordinator?.release().catch(() => {})
  }
  return true
}

async function runDeviceLogin(a: DeviceLoginAttempt, auth: DeviceAuthorization, pending: PendingLogin): Promise<void> {
  a.manager.setPendingLogin(pending)
  a.log.warn(
    {
      event: 'login.device_code',
      verificationUri: auth.verificationUri,
      userCode: auth.userCode,
      expiresInS: auth.expiresInS,
      hint: 'Approve the code on any device (it is also on the status page /-/); the proxy serves as soon as it is approved, no restart.',
    },
    `sign-in needed: visit ${auth.verificationUri} and enter the code ${auth.userCode}`,
  )
  const tokens = await pollDeviceToken(a.endpoint, auth, { clock: a.clock, signal: a.signal })
  const answeredAtMs = a.clock.now()
  a.manager.setPendingLogin(undefined)
  if (!tokens.refreshToken) throw noRefreshTokenError(a.scope, tokens)
  // the login's own access token is served: no extra refresh (and rotation) right after it
  await a.manager.adoptLoginTokens(tokens, answeredAtMs, subjectOf(tokens.accessToken))
  a.log.info({ event: 'login.succeeded' }, 'signed in; serving')
}

/** Waits ms on the clock; resolves early when the login is stopped. The abort listener goes with each wait (no pile-up over retries). */
function abortableWait(clock: Clock, signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clock.clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = clock.setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
