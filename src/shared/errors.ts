// Every error code the proxy can produce, in one place; callers switch on `code`.
import { scrubKnownSecrets, scrubTokenShapes } from './redact.js'

/** Stable codes. The HTTP ones appear in `{ "error": code }` bodies; docs/errors.md lists them all. */
export const ERROR_CODES = {
  // answered to HTTP callers
  token_unavailable: {
    status: 503,
    summary:
      'No valid access token right now; the identity provider is failing or unreachable. Retry after Retry-After.',
  },
  login_required: {
    status: 503,
    summary:
      'The refresh token was rejected (invalid_grant) or none is configured: sign in again (a running proxy starts a device login by itself; else oac-token-proxy login). Retry-After: 60 (only a sign-in fixes it).',
  },
  credential_rejected: {
    status: 503,
    summary:
      'The identity provider rejected the client, grant or scope (invalid_client, unauthorized_client, invalid_scope, unsupported_grant_type), in serve, token or login alike: fix the configuration or the application. Retry-After: 60 (only a fix helps).',
  },
  upstream_unreachable: { status: 502, summary: 'The upstream (OAC) could not be reached or closed the connection.' },
  upstream_timeout: { status: 504, summary: 'The upstream (OAC) did not answer in time.' },
  upstream_tls_error: {
    status: 502,
    summary:
      "The upstream's TLS certificate could not be verified (untrusted issuer, wrong name, expired); add the CA with tls.caFile.",
  },
  upstream_busy: {
    status: 503,
    summary:
      'Every upstream slot of the route (proxy.connections) stayed busy for proxy.queueTimeoutSeconds (slow or stuck upstream answers): retry after Retry-After.',
  },
  upstream_error: { status: 502, summary: 'The upstream answered something the proxy could not relay.' },
  bad_request: { status: 400, summary: 'The request could not be read (malformed body or headers).' },
  request_timeout: {
    status: 408,
    summary:
      "The caller's request body made no progress for proxy.upstreamTimeoutSeconds while it held an upstream slot; the connection is closed.",
  },
  internal_error: { status: 500, summary: 'An unexpected error inside the proxy; the log has details.' },
  host_not_allowed: {
    status: 421,
    summary:
      'The Host header is not one the proxy answers to (DNS rebinding defence); add it to security.allowedHosts if it is yours.',
  },
  origin_not_allowed: {
    status: 403,
    summary:
      'A web page from another origin tried to use the proxy; add the origin to security.allowedOrigins if it is yours.',
  },
  cross_site_refused: {
    status: 403,
    summary:
      'The browser marked the request cross-site or same-site (Sec-Fetch-Site): web pages may not drive the proxy.',
  },
  local_key_required: {
    status: 401,
    summary:
      'A local key is configured and the request did not carry a valid one (Authorization: Bearer <key> or the configured header).',
  },
  absolute_form_refused: {
    status: 400,
    summary: 'The request target was not a path (absolute-form or authority-form): the proxy is not an open proxy.',
  },
  connect_refused: { status: 405, summary: 'CONNECT is refused: the proxy only forwards to its configured upstreams.' },
  upgrade_refused: { status: 403, summary: 'Protocol upgrades (WebSocket, h2c) are refused.' },
  path_refused: {
    status: 400,
    summary:
      'The path has dot-segments, encoded slashes or backslashes, NUL bytes, ;parameters or a leading //, which could escape an allowed prefix or a rule.',
  },
  path_forbidden: { status: 403, summary: 'The path is denied (or not allowed) by the route access rules.' },
  method_forbidden: { status: 405, summary: 'The method is not allowed on this route (readOnly or allowMethods).' },
  header_too_large: { status: 431, summary: 'The request headers are larger than the proxy accepts.' },
  store_unavailable: {
    status: 503,
    summary:
      'The shared token store (Redis) could not be reached or did not answer in time; the proxy recovers by itself when it returns.',
  },
  store_refused: {
    status: 503,
    summary:
      'The shared token store (Redis) refused the proxy: wrong password or ACL user, a missing ACL permission, or a TLS certificate it cannot verify (add the CA with tls.caFile).',
  },
  store_busy: {
    status: 503,
    summary:
      'Another replica held the shared refresh lock for the whole wait without storing a new token; the proxy retries by itself.',
  },
  store_state_unreadable: {
    status: 503,
    summary:
      "The shared store's state could not be decrypted or read: another encryption key, a tampered value, or another credential's data.",
  },
  admin_not_found: { status: 404, summary: 'No such admin endpoint under the reserved /-/ prefix.' },
  // command-line and start-up errors
  config_invalid: { status: 0, summary: 'The configuration has unknown keys, wrong types or missing values.' },
  config_unreadable: { status: 0, summary: 'The configuration file could not be read or parsed.' },
  secret_unreadable: {
    status: 0,
    summary: 'A secret (client secret, refresh token) could not be read from its file or environment variable.',
  },
  state_locked: { status: 0, summary: 'Another live process uses the same state file.' },
  state_corrupt: { status: 0, summary: 'The state file exists but is not valid JSON of the expected shape.' },
  state_write_failed: { status: 0, summary: 'The state file could not be written.' },
  state_too_large: {
    status: 0,
    summary:
      'The state file is far larger than the few tokens it holds (not a file this program wrote): move it aside.',
  },
  file_unsafe: {
    status: 0,
    summary:
      'A state, lock, token or socket path is a symbolic link or belongs to another user: the proxy refuses to write through it.',
  },
  state_mismatch: {
    status: 0,
    summary:
      'The state file holds this credential for another identity domain or client: give this configuration its own stateFile.',
  },
  migrate_target_newer: {
    status: 0,
    summary:
      'migrate would replace a newer state in its target (the shared store or the state file) and drop its refresh token; nothing was written. Check with status, then pass --force to replace it anyway.',
  },
  idp_error: { status: 0, summary: 'The identity provider answered with an OAuth error.' },
  idp_unreachable: { status: 0, summary: 'The identity provider could not be reached or timed out.' },
  idp_bad_response: { status: 0, summary: 'The identity provider answered with a body that is not a token response.' },
  login_expired: {
    status: 0,
    summary: 'The login was not completed in time (the device code or the wait expired): run login again.',
  },
  login_denied: { status: 0, summary: 'The sign-in was refused (access_denied) by the user or the identity domain.' },
  login_failed: {
    status: 0,
    summary: 'The login could not be completed (state mismatch, bad redirect, unexpected answer).',
  },
  no_refresh_token: {
    status: 0,
    summary:
      'The identity provider signed the user in but returned no refresh token: the app does not allow the Refresh Token grant, offline access was not consented (prompt=consent), or the granted scope lacks offline_access. The hint lists the causes that fit.',
  },
  usage: { status: 0, summary: 'Wrong command-line usage.' },
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export interface ProxyErrorOptions {
  cause?: unknown
  /** What the user should do about it; shown after the message. Never holds a secret. */
  hint?: string
  /** Seconds a caller should wait before trying again (HTTP Retry-After). */
  retryAfterS?: number
}

/** Base class: `message` is safe to show and log; raw details go to `cause`. */
export class ProxyError extends Error {
  readonly code: ErrorCode
  readonly hint: string | undefined
  readonly retryAfterS: number | undefined

  constructor(code: ErrorCode, message: string, options: ProxyErrorOptions = {}) {
    // a message may quote outside text: no known secret survives into it (nor into status or logs)
    super(scrubKnownSecrets(message), options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProxyError'
    this.code = code
    this.hint = options.hint
    this.retryAfterS = options.retryAfterS
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].status || 500
  }

  /** The JSON body sent to HTTP callers. */
  toBody(): { error: ErrorCode; message: string; hint?: string } {
    return this.hint === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, hint: this.hint }
  }
}

/** An OAuth error answered by the identity provider (RFC 6749 5.2). */
export class OAuthError extends ProxyError {
  /** The `error` field, e.g. invalid_grant. */
  readonly oauthError: string
  readonly httpStatusFromIdp: number

  constructor(
    oauthError: string,
    httpStatusFromIdp: number,
    description: string | undefined,
    options: ProxyErrorOptions = {},
  ) {
    const code = oauthErrorCode(oauthError)
    super(
      'idp_error',
      `identity provider answered ${httpStatusFromIdp} ${code}` +
        (description ? `: ${sanitizeDescription(description)}` : ''),
      options,
    )
    this.name = 'OAuthError'
    this.oauthError = code
    this.httpStatusFromIdp = httpStatusFromIdp
  }

  /** Errors that retrying cannot fix: a human must change something. */
  get isTerminal(): boolean {
    return TERMINAL_OAUTH_ERRORS.has(this.oauthError)
  }
}

export const TERMINAL_OAUTH_ERRORS = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'invalid_scope',
  'unsupported_grant_type',
  'access_denied',
])

const MAX_DESCRIPTION_CHARS = 200
/** What an OAuth `error` code looks like in practice (RFC 6749 5.2: invalid_grant, slow_down...). */
const OAUTH_ERROR_FORM = /^[A-Za-z0-9_.:-]{1,64}$/
const MAX_OAUTH_ERROR_CHARS = 64

/**
 * The `error` field of an IdP answer as shown in messages, statuses and logs: a code of the usual form
 * as it is, anything else scrubbed like a description (known secrets, token shapes), on one line and cut.
 */
export function oauthErrorCode(raw: string): string {
  return OAUTH_ERROR_FORM.test(raw) ? raw : sanitizeDescription(raw).slice(0, MAX_OAUTH_ERROR_CHARS)
}

/**
 * IdP descriptions are shown to users: every secret value this process knows is scrubbed first
 * (before the cut, so no fragment survives it), then the text is cut short and stripped of
 * token-shaped strings (JWTs, long opaque runs); scopes and URLs stay readable.
 */
export function sanitizeDescription(text: string): string {
  const oneLine = scrubKnownSecrets(text)
    .replace(/[\r\n\t]+/g, ' ')
    .slice(0, MAX_DESCRIPTION_CHARS)
  return scrubTokenShapes(oneLine)
}

export function isProxyError(err: unknown): err is ProxyError {
  return err instanceof ProxyError
}
