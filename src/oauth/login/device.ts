// Device authorization grant (RFC 8628): ask for a user code, then poll the token endpoint until the user approves.
import { systemClock, type Clock } from '../../shared/clock.js'
import { OAuthError, ProxyError } from '../../shared/errors.js'
import { postForm, requestToken, type TokenEndpoint } from '../token-endpoint.js'
import type { TokenSet } from '../types.js'

export const DEVICE_PATH = '/oauth2/v1/device'
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code'
/** IDCS documents no `interval`; RFC 8628 says 5 s then. */
export const DEFAULT_POLL_INTERVAL_S = 5
/** RFC 8628 3.5: slow_down adds 5 s to the interval. */
export const SLOW_DOWN_STEP_S = 5

export interface DeviceAuthorization {
  /** Never shown or logged: whoever holds it can collect the tokens. */
  deviceCode: string
  userCode: string
  verificationUri: string
  verificationUriComplete: string | undefined
  expiresInS: number
  intervalS: number
}

export async function startDeviceAuthorization(endpoint: TokenEndpoint, scope: string): Promise<DeviceAuthorization> {
  const { json, host } = await postForm(endpoint, DEVICE_PATH, {
    response_type: 'device_code',
    client_id: endpoint.clientAuth.clientId,
    scope,
  })
  const str = (k: string): string | undefined => (typeof json?.[k] === 'string' ? (json[k] as string) : undefined)
  const num = (k: string): number | undefined => {
    const v = json?.[k]
    const n = typeof v === 'string' ? Number(v) : v
    return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined
  }
  const deviceCode = str('device_code')
  const userCode = str('user_code')
  const verificationUri = str('verification_uri') ?? str('verification_url')
  if (!deviceCode || !userCode || !verificationUri) {
    throw new ProxyError(
      'idp_bad_response',
      `identity provider at ${host} answered the device request without a code`,
      {
        hint: 'Check that the application allows the Device Code grant.',
      },
    )
  }
  return {
    deviceCode,
    userCode,
    verificationUri,
    verificationUriComplete: str('verification_uri_complete'),
    expiresInS: num('expires_in') ?? 600,
    intervalS: num('interval') ?? DEFAULT_POLL_INTERVAL_S,
  }
}

export interface PollOptions {
  clock?: Clock
  /** Called before each wait with the seconds left until the code expires. */
  onWait?: (secondsLeft: number, intervalS: number) => void
  signal?: AbortSignal
}

/** Polls until tokens arrive; rejects with login_expired, login_denied or the IdP's error. */
export async function pollDeviceToken(
  endpoint: TokenEndpoint,
  auth: DeviceAuthorization,
  options: PollOptions = {},
): Promise<TokenSet> {
  const clock = options.clock ?? systemClock
  const expiresAtMs = clock.now() + auth.expiresInS * 1000
  let intervalS = auth.intervalS
  for (;;) {
    const left = Math.ceil((expiresAtMs - clock.now()) / 1000)
    if (left <= 0) throw expired()
    options.onWait?.(left, intervalS)
    await sleep(clock, intervalS * 1000, options.signal)
    try {
      return await requestToken(endpoint, { grant_type: DEVICE_CODE_GRANT_TYPE, device_code: auth.deviceCode })
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err
      switch (err.oauthError) {
        case 'authorization_pending':
          continue
        case 'slow_down':
          intervalS += SLOW_DOWN_STEP_S
          continue
        case 'expired_token':
          throw expired()
        case 'access_denied':
          throw new ProxyError('login_denied', 'the sign-in was refused (access_denied)', {
            hint: 'Run login again and approve the request; check that the user may use this application.',
          })
        default:
          throw err
      }
    }
  }
}

function expired(): ProxyError {
  return new ProxyError('login_expired', 'the device code expired before the sign-in was completed', {
    hint: 'Run login again and enter the code within the time shown.',
  })
}

function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ProxyError('login_failed', 'login cancelled'))
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    // a login runs in the foreground: the wait between polls must keep the process alive
    if (typeof (timer as NodeJS.Timeout).ref === 'function') (timer as NodeJS.Timeout).ref()
    const onAbort = (): void => {
      clock.clearTimeout(timer)
      reject(new ProxyError('login_failed', 'login cancelled'))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
