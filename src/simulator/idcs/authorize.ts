// The IDCS authorization endpoint (code flow with PKCE S256): redirect URI checks, scripted consent, codes.

import { randomBytes } from 'node:crypto'
import { checkScope } from '../access-tokens.js'
import { GRANT_AUTHORIZATION_CODE } from '../constants.js'
import { startResponse } from '../http-util.js'
import type { RequestContext } from '../http-util.js'
import { escapeHtml, sendHtml } from './util.js'
import type { IdcsDeps } from './deps.js'

export const AUTHORIZE_PATH = '/oauth2/v1/authorize'
/** An S256 challenge is BASE64URL of 32 bytes. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

const LOOPBACK_HOSTS = ['127.0.0.1', '[::1]']

/** Exact match, or (RFC 8252 section 7.3) a registered http loopback IP URI with any port. */
export function redirectUriMatches(registered: readonly string[], uri: string, loopbackAnyPort: boolean): boolean {
  if (registered.includes(uri)) return true
  if (!loopbackAnyPort) return false
  let wanted: URL
  try {
    wanted = new URL(uri)
  } catch {
    return false
  }
  if (wanted.protocol !== 'http:' || !LOOPBACK_HOSTS.includes(wanted.hostname)) return false
  return registered.some((r) => {
    try {
      const reg = new URL(r)
      const same = (u: URL) => [u.protocol, u.hostname, u.pathname, u.search, u.username, u.password].join(' ')
      return same(reg) === same(wanted)
    } catch {
      return false
    }
  })
}

function errorPage(ctx: RequestContext, message: string): void {
  sendHtml(ctx, 400, 'Error', `<p>${escapeHtml(message)}</p>`)
}

function redirect(ctx: RequestContext, redirectUri: string, params: Record<string, string | null>): void {
  const target = new URL(redirectUri)
  for (const [key, value] of Object.entries(params)) if (value !== null) target.searchParams.append(key, value)
  ctx.req.resume()
  if (startResponse(ctx, 302, { location: target.toString(), 'content-length': 0, 'cache-control': 'no-store' })) {
    ctx.res.end()
  }
}

/** GET /oauth2/v1/authorize: answers as if the browser's user acted per the scripted behaviour. */
export function handleAuthorize(ctx: RequestContext, deps: IdcsDeps): void {
  const q = ctx.url.searchParams
  const a = deps.authorize
  ctx.call.grantType = GRANT_AUTHORIZATION_CODE
  const clientId = q.get('client_id')
  if (!clientId || !deps.directory.isKnownClient(clientId)) {
    ctx.call.clientAuth = 'invalid'
    errorPage(ctx, 'The client is not registered.')
    return
  }
  ctx.call.clientAuth = 'none'
  const redirectUri = q.get('redirect_uri')
  if (!redirectUri || !redirectUriMatches(a.redirectUris, redirectUri, a.loopbackAnyPort)) {
    errorPage(ctx, 'The redirect_uri is not registered for the client.')
    return
  }
  const state = q.get('state')
  const fail = (error: string, description: string) =>
    redirect(ctx, redirectUri, { error, error_description: description, state })
  const challenge = q.get('code_challenge')
  const scope = checkScope(q.get('scope'))
  if (q.get('response_type') !== 'code') {
    fail('unsupported_response_type', 'Only response_type=code is supported.')
  } else if (!challenge || q.get('code_challenge_method') !== 'S256' || !S256_CHALLENGE.test(challenge)) {
    fail('invalid_request', 'PKCE is required: code_challenge with code_challenge_method=S256.')
  } else if ('problem' in scope) {
    fail('invalid_scope', scope.problem)
  } else if (!deps.directory.allows(clientId, GRANT_AUTHORIZATION_CODE)) {
    fail('unauthorized_client', 'Client is not authorized for this grant type.')
  } else if (a.behaviour.action === 'deny') {
    fail('access_denied', 'The user denied the request.')
  } else {
    const user = (a.behaviour.action === 'approve' ? a.behaviour.user : undefined) ?? a.defaultUser
    const code = a.codes.issue({ clientId, redirectUri, scope: scope.scope, challenge, user })
    const returnedState = a.behaviour.action === 'tamper_state' ? 'tampered-' + randomBytes(8).toString('hex') : state
    redirect(ctx, redirectUri, { code, state: returnedState })
  }
}
