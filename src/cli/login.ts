// The `login` and `import` commands: obtain a refresh token (device or browser) or import one, into the state file.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { jwtClaims } from '../shared/jwt.js'
import { renderUnicodeCompact } from 'uqr'
import { systemClock, type Clock } from '../shared/clock.js'
import type { CredentialConfig, ProxyConfig } from '../config/types.js'
import { tokenEndpointFor } from '../app/managers.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { browserLogin } from '../oauth/login/browser.js'
import { pollDeviceToken, startDeviceAuthorization } from '../oauth/login/device.js'
import { rethrowForLogin } from '../oauth/rejection.js'
import { idpName, withProgress } from './progress.js'
import { noRefreshTokenError, subjectOf, withOfflineAccess } from '../oauth/scope.js'
import type { TokenSet } from '../oauth/types.js'
import { lifetimeOf } from '../token/manager.js'
import type { CredentialState, TokenStore } from '../token/store/types.js'
import type { Dispatcher } from 'undici'

export interface LoginOptions {
  credential: string
  method: 'device' | 'browser'
  store: TokenStore
  logger: Logger
  /** Human-facing output (stdout). */
  out: (line: string) => void
  /** A terminal: QR code and a live countdown; otherwise plain lines and log events. */
  interactive: boolean
  clock?: Clock
  idpDispatcher?: Dispatcher
  /** Opens a URL in a browser; default: xdg-open / open / start. */
  openUrl?: (url: string) => Promise<boolean>
}

export interface LoginResult {
  subject: string | undefined
  credential: string
}

export function credentialByName(config: ProxyConfig, name: string): CredentialConfig {
  const c = config.credentials.find((x) => x.name === name)
  if (!c) {
    throw new ProxyError('usage', `no credential named '${name}'`, {
      hint: `Known credentials: ${config.credentials.map((x) => x.name).join(', ')}.`,
    })
  }
  return c
}

export async function login(config: ProxyConfig, options: LoginOptions): Promise<LoginResult> {
  const credential = credentialByName(config, options.credential)
  if (credential.grant !== 'refresh_token') {
    throw new ProxyError(
      'usage',
      `credential '${credential.name}' uses the ${credential.grant} grant, which needs no login`,
      {
        hint: 'Start the proxy directly: it obtains tokens by itself.',
      },
    )
  }
  const clock = options.clock ?? systemClock
  const endpoint = tokenEndpointFor(credential, config, {
    clock,
    ...(options.idpDispatcher ? { idpDispatcher: options.idpDispatcher } : {}),
  })
  const scope = withOfflineAccess(credential.scope)
  let tokens: TokenSet
  if (options.method === 'device') {
    const auth = await withProgress(idpName(credential.idcsUrl), startDeviceAuthorization(endpoint, scope), {
      limitMs: config.token.idpTimeoutMs,
    }).catch(rethrowForLogin)
    showDeviceCode(auth.verificationUri, auth.verificationUriComplete, auth.userCode, auth.expiresInS, options)
    let lastShown = -1
    tokens = await pollDeviceToken(endpoint, auth, {
      clock,
      onWait: (left) => {
        if (options.interactive) process.stdout.write(`\r  waiting for approval: ${formatLeft(left)} left  `)
        else if (lastShown < 0 || lastShown - left >= 60) {
          lastShown = left
          options.logger.info(
            { event: 'login.waiting', secondsLeft: left, userCode: auth.userCode },
            'waiting for the sign-in',
          )
        }
      },
    })
      .catch(rethrowForLogin)
      .finally(() => {
        if (options.interactive) process.stdout.write('\n')
      })
  } else {
    tokens = await browserLogin({
      endpoint,
      scope,
      redirectPort: config.login.redirectPort,
      redirectPath: config.login.redirectPath,
      prompt: config.login.prompt,
      timeoutMs: config.login.timeoutMs,
      openUrl: async (url) => {
        options.out('Sign in with your browser. If it does not open, visit:')
        options.out('')
        options.out(`  ${url}`)
        options.out('')
        if (!config.login.openBrowser) return false
        return (options.openUrl ?? openInBrowser)(url)
      },
    }).catch(rethrowForLogin)
  }
  if (!tokens.refreshToken) {
    throw noRefreshTokenError(scope, tokens, options.method === 'browser' ? config.login.prompt : undefined)
  }
  const subject = subjectOf(tokens.accessToken)
  await saveRefreshToken(options.store, credential.name, tokens.refreshToken, subject, clock, tokens)
  options.logger.info(
    { event: 'login.succeeded', credential: credential.name, subject },
    'signed in; refresh token saved',
  )
  return { subject, credential: credential.name }
}

async function saveRefreshToken(
  store: TokenStore,
  name: string,
  refreshToken: string,
  subject: string | undefined,
  clock: Clock,
  /** The sign-in's own access token: saved with the refresh token, so serve and token use it instead of rotating again at once. */
  tokens?: TokenSet,
): Promise<void> {
  const now = clock.now()
  const state: CredentialState = { refreshToken, refreshTokenObtainedAtMs: now, updatedAtMs: now }
  if (subject) state.subject = subject
  if (tokens) {
    state.accessToken = tokens.accessToken
    state.accessTokenObtainedAtMs = now
    // the manager's own lifetime rule (expires_in, or the JWT exp when it is earlier by whole-second rounding)
    state.accessTokenExpiresAtMs = now + lifetimeOf(tokens, now)
  }
  await store.save(name, state)
}

/** The `exp` claim in ms, when the access token is a JWT that has one (an opaque token has no known expiry). */
function jwtExpMs(accessToken: string): number | undefined {
  try {
    const { exp } = jwtClaims(accessToken)
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

function showDeviceCode(
  uri: string,
  complete: string | undefined,
  userCode: string,
  expiresInS: number,
  options: LoginOptions,
): void {
  if (!options.interactive) {
    // in a container the log is where people look: the user code is not a secret (the device code is)
    options.logger.warn(
      { event: 'login.device_code', verificationUri: uri, userCode, expiresInS },
      `to sign in, visit ${uri} and enter the code ${userCode}`,
    )
    options.out(`To sign in, visit ${uri} and enter the code ${userCode} (valid ${formatLeft(expiresInS)}).`)
    return
  }
  options.out('')
  options.out('  To sign in, open this page on any device:')
  options.out('')
  options.out(`      ${uri}`)
  options.out('')
  options.out('  and enter the code:')
  options.out('')
  options.out(`      ${userCode}`)
  options.out('')
  options.out(
    renderUnicodeCompact(complete ?? uri)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  )
  options.out('')
}

function formatLeft(seconds: number): string {
  const m = Math.floor(seconds / 60)
  const s = seconds % 60
  return m > 0 ? `${m} min ${String(s).padStart(2, '0')} s` : `${s} s`
}

/** Starts the platform's URL opener; false when there is none. */
export function openInBrowser(url: string): Promise<boolean> {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]]
  return new Promise((resolve) => {
    try {
      const child = spawn(cmd as string, args as string[], { stdio: 'ignore', detached: true })
      child.once('error', () => resolve(false))
      child.once('spawn', () => {
        child.unref()
        resolve(true)
      })
    } catch {
      resolve(false)
    }
  })
}

/**
 * `import FILE`: an OAC profile tokens.json (its refresh token) or an IDCS console tokens.tok
 * (an access token only, served until it expires).
 */
export async function importTokens(
  path: string,
  credential: string,
  store: TokenStore,
  clock: Clock = systemClock,
  /** Stores an access-token-only import elsewhere (the shared store keeps it as the next version). */
  storeAccessToken?: (accessToken: string, expiresAtMs: number) => Promise<void>,
): Promise<{ kind: 'refresh_token' | 'access_token'; expiresAtMs?: number }> {
  const full = resolve(path)
  let json: Record<string, unknown>
  try {
    json = JSON.parse(readFileSync(full, 'utf8')) as Record<string, unknown>
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'not JSON'
    throw new ProxyError('secret_unreadable', `cannot read tokens from ${full} (${code})`, {
      hint: 'Give the tokens.json from the OAC profile page or the tokens.tok from the IDCS console.',
    })
  }
  const refreshToken = json.refresh_token ?? json.refreshToken
  const accessToken = json.app_access_token ?? json.access_token ?? json.accessToken
  const previous = store.load(credential) ?? {}
  if (typeof refreshToken === 'string' && refreshToken) {
    const subject = typeof accessToken === 'string' ? subjectOf(accessToken) : undefined
    await saveRefreshToken(store, credential, refreshToken, subject ?? previous.subject, clock)
    return { kind: 'refresh_token' }
  }
  if (typeof accessToken === 'string' && accessToken) {
    const expiresAtMs = jwtExpMs(accessToken)
    if (expiresAtMs === undefined || expiresAtMs <= clock.now()) {
      throw new ProxyError('login_required', `the access token in ${full} has expired or has no expiry`, {
        hint: 'Download a fresh one from the console.',
      })
    }
    if (storeAccessToken) {
      await storeAccessToken(accessToken, expiresAtMs)
      return { kind: 'access_token', expiresAtMs }
    }
    await store.save(credential, {
      ...previous,
      importedAccessToken: accessToken,
      importedAccessTokenExpiresAtMs: expiresAtMs,
      updatedAtMs: clock.now(),
    })
    return { kind: 'access_token', expiresAtMs }
  }
  throw new ProxyError('secret_unreadable', `${full} holds neither refresh_token nor app_access_token/access_token`, {
    hint: 'Give the tokens.json from the OAC profile page or the tokens.tok from the IDCS console.',
  })
}
