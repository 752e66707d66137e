// What a failed refresh means for callers: an error retrying cannot fix (terminal), or one worth retrying.
import { ProxyError } from '../shared/errors.js'
import { LOGIN_REQUIRED_HINT, LOGIN_WAITING_HINT, rejectionOf, type RejectionContext } from '../oauth/rejection.js'
import type { PendingLogin } from './manager-types.js'

/**
 * Retry-After of login_required and credential_rejected: only a person can fix them (a login, the
 * configuration), so retrying sooner than this cannot help; the error code says it is not transient.
 */
export const TERMINAL_RETRY_AFTER_S = 60

export function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err
  return new ProxyError('idp_unreachable', (err as Error)?.message ?? String(err), { cause: err })
}

/**
 * The login_required error with the hint for a waiting device login, or else `otherwise`: the way to sign
 * in again that this process offers (by default a running proxy's own device login, or the login command).
 */
export function withLoginHint(
  err: ProxyError,
  login: PendingLogin | undefined,
  otherwise: string = LOGIN_REQUIRED_HINT,
): ProxyError {
  return new ProxyError('login_required', err.message, {
    cause: err.cause,
    hint: login ? LOGIN_WAITING_HINT : otherwise,
    ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }),
  })
}

/**
 * Errors retrying cannot fix, as the error callers receive (with a Retry-After callers can act on).
 * `loginHint` replaces the hint of login_required where this process offers another way to sign in.
 */
export function terminalError(err: unknown, grant: string, loginHint?: string): ProxyError | undefined {
  const rejected =
    rejectionOf(err, grant as RejectionContext) ??
    (err instanceof ProxyError && err.code === 'login_required' ? err : undefined)
  if (!rejected) return undefined
  const hint = rejected.code === 'login_required' && loginHint ? loginHint : rejected.hint
  if (rejected.retryAfterS !== undefined && hint === rejected.hint) return rejected
  return new ProxyError(rejected.code, rejected.message, {
    cause: rejected.cause,
    ...(hint ? { hint } : {}),
    retryAfterS: rejected.retryAfterS ?? TERMINAL_RETRY_AFTER_S,
  })
}

/** Failures of a fleet's shared store: callers see the store's own code, not token_unavailable. */
const STORE_CODES = new Set(['store_unavailable', 'store_busy', 'store_refused', 'store_state_unreadable'])

export function isStoreCode(code: string): boolean {
  return STORE_CODES.has(code)
}

/**
 * token_unavailable, with the Retry-After callers may act on and the last failure as the hint; when the shared
 * store (Redis) is what failed, its code (store_unavailable, ...) so callers and operators see where to look.
 */
export function unavailableError(
  credential: string,
  retryAfterS: number,
  lastError?: { code: string; message: string },
): ProxyError {
  const code =
    lastError && STORE_CODES.has(lastError.code) ? (lastError.code as 'store_unavailable') : 'token_unavailable'
  return new ProxyError(code, `no valid access token for credential '${credential}' right now`, {
    retryAfterS,
    hint: lastError !== undefined ? `last refresh failed: ${lastError.message}` : 'a refresh is under way',
  })
}

/** token_unavailable while a slow refresh is still waited for. */
export function slowAnswerError(credential: string, demandRetryMs: number): ProxyError {
  return new ProxyError('token_unavailable', `no valid access token for credential '${credential}' right now`, {
    retryAfterS: Math.max(1, Math.ceil(demandRetryMs / 1000)),
    hint: 'the identity provider is slow to answer a refresh; it is still waited for',
  })
}
