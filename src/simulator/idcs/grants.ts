// Token-endpoint grants beyond refresh_token: device code, auth code + PKCE, password, JWT, client credentials.

import { createHash } from 'node:crypto'
import { checkScope, hasOfflineAccess } from '../access-tokens.js'
import { sendJson } from '../http-util.js'
import type { RequestContext } from '../http-util.js'
import { NO_STORE, assertionAudiences, oauthError } from './util.js'
import type { IdcsDeps } from './deps.js'

/** The authenticated client of a token request. */
export interface TokenClient {
  clientId: string
  kind: 'basic' | 'post' | 'none' | 'private_key_jwt'
}

interface Issue {
  clientId: string
  user: string
  scope: string
  /** Client-credentials tokens: no user, never a refresh token. */
  subType?: 'client'
  /** User assertions: the client signs a new assertion instead of refreshing. */
  noRefreshToken?: boolean
}

/** A new refresh token for a grant, living the domain's refresh-token lifetime from `nowMs`. */
export function issueRefreshToken(
  deps: IdcsDeps,
  grant: { clientId: string; user: string; scope: string },
  nowMs: number,
): string {
  const { clientId, user, scope } = grant
  return deps.refreshTokens.issue({ clientId, user, scope, expiresAtMs: nowMs + deps.refreshTokenLifetimeS * 1000 })
}

/** The token endpoint's 200 answer: the access token, and the refresh token when there is one. */
export function sendTokens(
  ctx: RequestContext,
  access: { token: string; lifetimeS: number },
  refreshToken: string | undefined,
): void {
  const body: Record<string, unknown> = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.lifetimeS,
  }
  if (refreshToken) body.refresh_token = refreshToken
  sendJson(ctx, 200, body, NO_STORE)
}

/** Answer 200 with an access token, and a refresh token when a user granted offline_access. */
export async function issueTokens(ctx: RequestContext, deps: IdcsDeps, r: Issue): Promise<void> {
  let refreshToken: string | undefined
  if (r.subType !== 'client' && !r.noRefreshToken && hasOfflineAccess(r.scope)) {
    refreshToken = issueRefreshToken(deps, r, deps.state.clock.now())
  }
  const access = await deps.mintAccessToken({ clientId: r.clientId, user: r.user, scope: r.scope, subType: r.subType })
  sendTokens(ctx, access, refreshToken)
}

export function invalidGrant(ctx: RequestContext, description: string): void {
  oauthError(ctx, 400, 'invalid_grant', description)
}

/** Validate the scope parameter; answers invalid_scope and returns undefined when it is refused. */
function requestedScope(ctx: RequestContext, form: URLSearchParams): string | undefined {
  const checked = checkScope(form.get('scope'))
  if ('problem' in checked) {
    oauthError(ctx, 400, 'invalid_scope', checked.problem)
    return undefined
  }
  return checked.scope
}

export async function deviceCodeGrant(
  ctx: RequestContext,
  deps: IdcsDeps,
  form: URLSearchParams,
  client: TokenClient,
): Promise<void> {
  const deviceCode = form.get('device_code')
  if (!deviceCode) {
    oauthError(ctx, 400, 'invalid_request', 'The device_code parameter is required.')
    return
  }
  const outcome = deps.devices.poll(deviceCode, client.clientId)
  if (!outcome.ok) {
    oauthError(ctx, 400, outcome.error, outcome.description)
    return
  }
  await issueTokens(ctx, deps, { clientId: client.clientId, user: outcome.user, scope: outcome.scope })
}

/** BASE64URL(SHA256(verifier)) as RFC 7636 section 4.2 computes it for S256. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

export async function authorizationCodeGrant(
  ctx: RequestContext,
  deps: IdcsDeps,
  form: URLSearchParams,
  client: TokenClient,
): Promise<void> {
  const code = form.get('code')
  if (!code) {
    oauthError(ctx, 400, 'invalid_request', 'The code parameter is required.')
    return
  }
  const issued = deps.authorize.codes.redeem(code)
  const verifier = form.get('code_verifier')
  if (!issued) invalidGrant(ctx, 'Invalid authorization code.')
  else if (deps.state.clock.now() >= issued.expiresAtMs) invalidGrant(ctx, 'The authorization code has expired.')
  else if (issued.clientId !== client.clientId) invalidGrant(ctx, 'The authorization code belongs to another client.')
  else if (form.get('redirect_uri') !== issued.redirectUri) invalidGrant(ctx, 'The redirect_uri does not match.')
  else if (!verifier || s256(verifier) !== issued.challenge) invalidGrant(ctx, 'PKCE verification failed.')
  else await issueTokens(ctx, deps, { clientId: client.clientId, user: issued.user, scope: issued.scope })
}

export async function passwordGrant(
  ctx: RequestContext,
  deps: IdcsDeps,
  form: URLSearchParams,
  client: TokenClient,
): Promise<void> {
  const username = form.get('username')
  const password = form.get('password')
  if (!username || password === null) {
    oauthError(ctx, 400, 'invalid_request', 'The username and password parameters are required.')
    return
  }
  const scope = requestedScope(ctx, form)
  if (scope === undefined) return
  const check = deps.directory.checkPassword(username, password)
  if (check === 'federated') invalidGrant(ctx, 'Federated users cannot use the password grant.')
  else if (check === 'invalid') invalidGrant(ctx, 'Invalid user credentials.')
  else await issueTokens(ctx, deps, { clientId: client.clientId, user: username, scope })
}

export async function jwtBearerGrant(
  ctx: RequestContext,
  deps: IdcsDeps,
  form: URLSearchParams,
  client: TokenClient,
): Promise<void> {
  const assertion = form.get('assertion')
  if (!assertion) {
    oauthError(ctx, 400, 'invalid_request', 'The assertion parameter is required.')
    return
  }
  const scope = requestedScope(ctx, form)
  if (scope === undefined) return
  const result = await deps.clientKeys.verify(assertion, {
    kind: 'user',
    clientId: client.clientId,
    nowMs: deps.state.clock.now(),
    audiences: assertionAudiences(deps),
    isUser: (name) => deps.directory.hasUser(name),
  })
  if (!result.ok) {
    invalidGrant(ctx, result.reason)
    return
  }
  await issueTokens(ctx, deps, { clientId: client.clientId, user: result.sub, scope, noRefreshToken: true })
}

export async function clientCredentialsGrant(
  ctx: RequestContext,
  deps: IdcsDeps,
  form: URLSearchParams,
  client: TokenClient,
): Promise<void> {
  if (client.kind === 'none' || deps.directory.isPublicClient(client.clientId)) {
    oauthError(ctx, 401, 'invalid_client', 'Public clients cannot use the client_credentials grant.')
    return
  }
  const scope = requestedScope(ctx, form)
  if (scope === undefined) return
  await issueTokens(ctx, deps, { clientId: client.clientId, user: client.clientId, scope, subType: 'client' })
}
