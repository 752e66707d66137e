// Client for the IDCS token endpoint: form POST, client auth, RFC 6749 error mapping, Retry-After.
import type { Dispatcher } from 'undici'
import { request } from '../net/undici.js'
import { OAuthError, ProxyError } from '../shared/errors.js'
import { applyClientAuth, type ClientAuth } from './client-auth.js'
import type { TokenSet } from './types.js'
import { registerToken } from '../shared/redact.js'

export const TOKEN_PATH = '/oauth2/v1/token'
/** Token responses are small; anything larger is not one. */
export const MAX_TOKEN_RESPONSE_BYTES = 256 * 1024

export interface TokenEndpoint {
  idcsUrl: string
  clientAuth: ClientAuth
  timeoutMs: number
  dispatcher?: Dispatcher
}

/** How one call waits for its answer. */
export interface CallOptions {
  /**
   * Wait for the answer until `signal` aborts instead of for endpoint.timeoutMs: for calls whose
   * answer may carry the only valid credential (a rotated refresh token).
   */
  patient?: boolean
  signal?: AbortSignal
}

/** Errors raised before the request could reach the server: nothing was processed, nothing can answer. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
])

/**
 * Whether a failed call may have been processed by the server although its answer never arrived
 * (connection dropped or timed out after the request was sent).
 */
export function answerMayBeLost(err: unknown): boolean {
  if (!(err instanceof ProxyError) || err.code !== 'idp_unreachable') return false
  const code = (err.cause as { code?: string } | undefined)?.code
  return code === undefined || !NOT_SENT_CODES.has(code)
}

/** POSTs the grant parameters; resolves a TokenSet or rejects with a ProxyError/OAuthError. */
export async function requestToken(
  endpoint: TokenEndpoint,
  grantParams: Record<string, string>,
  call: CallOptions = {},
): Promise<TokenSet> {
  const { json, host } = await postForm(endpoint, TOKEN_PATH, grantParams, call)
  return toTokenSet(json, host)
}

/**
 * POSTs a form with client authentication to an IDCS OAuth path; resolves the JSON body of a 2xx
 * answer, rejects with OAuthError for RFC 6749 errors and ProxyError otherwise.
 */
export async function postForm(
  endpoint: TokenEndpoint,
  path: string,
  formParams: Record<string, string>,
  call: CallOptions = {},
): Promise<{ json: Record<string, unknown> | undefined; host: string }> {
  const url = endpoint.idcsUrl + path
  try {
    return await postFormOnce(endpoint, url, formParams, call, assertionAudienceFor(endpoint.clientAuth))
  } catch (err) {
    // a server that names the client assertion's audience as the problem gets one more try with the
    // URL the assertion is sent to (RFC 7523 3: the token endpoint URL is an accepted audience);
    // client authentication fails before any grant is processed, so nothing can have rotated
    const auth = endpoint.clientAuth
    if (!(err instanceof OAuthError) || err.oauthError !== 'invalid_client' || auth.method !== 'private_key_jwt') {
      throw err
    }
    if (!/\baud(ience)?\b/i.test(err.message) || assertionAudienceFor(auth) === url) throw withAudienceHint(err, url)
    try {
      const answer = await postFormOnce(endpoint, url, formParams, call, url)
      AUDIENCE_OVERRIDES.set(auth.key, url)
      return answer
    } catch (retryErr) {
      throw retryErr instanceof OAuthError && retryErr.oauthError === 'invalid_client'
        ? withAudienceHint(retryErr, url)
        : retryErr
    }
  }
}

/** Audiences learnt from a server that refused the configured one, by key. */
const AUDIENCE_OVERRIDES = new WeakMap<object, string>()

function assertionAudienceFor(auth: ClientAuth): string | undefined {
  if (auth.method !== 'private_key_jwt') return undefined
  return AUDIENCE_OVERRIDES.get(auth.key) ?? auth.key.audience
}

function withAudienceHint(err: OAuthError, url: string): OAuthError {
  const hinted = new OAuthError(err.oauthError, err.httpStatusFromIdp, undefined, {
    cause: err,
    ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }),
    hint:
      'With private_key_jwt, check clientId, privateKey and keyId (or certificate) against the certificate uploaded to the application, ' +
      `and assertionAudience: IDCS wants https://identity.oraclecloud.com/ or the domain URL, other servers the token endpoint URL (${url}) or the issuer.`,
  })
  Object.defineProperty(hinted, 'message', { value: err.message })
  return hinted
}

async function postFormOnce(
  endpoint: TokenEndpoint,
  url: string,
  formParams: Record<string, string>,
  call: CallOptions,
  audience: string | undefined,
): Promise<{ json: Record<string, unknown> | undefined; host: string }> {
  const params = new URLSearchParams(formParams)
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
    accept: 'application/json',
  }
  await applyClientAuth(endpoint.clientAuth, headers, params, audience)
  const host = new URL(url).host

  // a patient call has no timeout of its own (0 turns undici's off): the caller's signal ends it
  const timeoutMs = call.patient ? 0 : endpoint.timeoutMs
  const signals = [call.patient ? undefined : AbortSignal.timeout(endpoint.timeoutMs), call.signal].filter(
    (x): x is AbortSignal => x !== undefined,
  )
  let res: Dispatcher.ResponseData
  let text: string
  try {
    res = await request(url, {
      method: 'POST',
      headers,
      body: params.toString(),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(signals.length > 0 ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
      ...(endpoint.dispatcher ? { dispatcher: endpoint.dispatcher } : {}),
    })
    text = await readLimited(res)
  } catch (err) {
    throw unreachable(err, host, endpoint.timeoutMs)
  }

  const retryAfterS = parseRetryAfter(res.headers['retry-after'])
  const json = parseJson(text)
  if (res.statusCode >= 200 && res.statusCode < 300) {
    return { json, host }
  }
  const opts = retryAfterS === undefined ? {} : { retryAfterS }
  if (json && typeof json.error === 'string') {
    const desc = typeof json.error_description === 'string' ? json.error_description : undefined
    throw new OAuthError(json.error, res.statusCode, desc, opts)
  }
  if (res.statusCode === 429) throw new OAuthError('rate_limited', 429, 'too many token requests', opts)
  if (res.statusCode >= 500) throw new OAuthError('server_error', res.statusCode, undefined, opts)
  throw new ProxyError(
    'idp_bad_response',
    `identity provider at ${host} answered ${res.statusCode} without an OAuth error body`,
    {
      ...opts,
      hint: `Check that idcsUrl points at the identity domain (the token endpoint is ${TOKEN_PATH}).`,
    },
  )
}

async function readLimited(res: Dispatcher.ResponseData): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length
    if (size > MAX_TOKEN_RESPONSE_BYTES) {
      res.body.destroy()
      throw Object.assign(new Error('token response too large'), { code: 'RESPONSE_TOO_LARGE' })
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

export function toTokenSet(json: Record<string, unknown> | undefined, host: string): TokenSet {
  const bad = (what: string): ProxyError =>
    new ProxyError('idp_bad_response', `identity provider at ${host} answered 200 but ${what}`, {
      hint: 'This is usually a proxy or gateway in between answering instead of the identity domain.',
    })
  if (!json) throw bad('the body is not JSON')
  if (typeof json.access_token !== 'string' || json.access_token === '') throw bad('without access_token')
  const expiresIn = typeof json.expires_in === 'string' ? Number(json.expires_in) : json.expires_in
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw bad('without a valid expires_in')
  }
  const set: TokenSet = {
    accessToken: json.access_token,
    tokenType: typeof json.token_type === 'string' ? json.token_type : 'Bearer',
    expiresInS: expiresIn,
  }
  if (typeof json.refresh_token === 'string' && json.refresh_token !== '') set.refreshToken = json.refresh_token
  if (typeof json.scope === 'string') set.scope = json.scope
  if (typeof json.id_token === 'string') set.idToken = json.id_token
  // every token obtained is scrubbed from outside texts (an IdP may echo it in an error) from now on
  registerToken(set.accessToken)
  registerToken(set.refreshToken)
  registerToken(set.idToken)
  return set
}

/** Retry-After as seconds (delta-seconds or HTTP-date). */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (!v) return undefined
  if (/^\d+$/.test(v.trim())) return Number(v.trim())
  const at = Date.parse(v)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, Math.ceil((at - nowMs) / 1000))
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** A network failure as users read it: a timeout says how long was waited and which setting sets it. */
export function unreachable(err: unknown, host: string, timeoutMs: number): ProxyError {
  const e = err as { code?: unknown; name?: string }
  const code = typeof e.code === 'string' ? e.code : (e.name ?? 'error')
  if (e.name === 'TimeoutError' || TIMEOUT_CODES.has(code)) {
    return new ProxyError(
      'idp_unreachable',
      `the identity provider at ${host} did not answer within ${timeoutMs / 1000} s (timed out)`,
      {
        cause: err,
        hint: 'Check idcsUrl, DNS, the network and any HTTPS_PROXY setting; token.idpTimeoutSeconds (OAC_PROXY_TOKEN_IDP_TIMEOUT_SECONDS) sets how long to wait.',
      },
    )
  }
  return new ProxyError('idp_unreachable', `cannot reach the identity provider at ${host} (${code})`, {
    cause: err,
    hint: 'Check idcsUrl, DNS, the network and any HTTPS_PROXY setting.',
  })
}
