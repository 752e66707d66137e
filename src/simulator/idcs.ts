// The simulated IDCS: token endpoint (refresh_token grant with rotation) and the signing JWKS.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_SMALL_BODY_BYTES } from './constants.js'
import { authenticateClient } from './client-auth.js'
import type { RegisteredClients } from './client-auth.js'
import { applyFault } from './faults.js'
import type { SimFaultQueue } from './faults.js'
import { BodyTooLargeError, createContext, readBody, sendJson } from './http-util.js'
import type { RequestContext } from './http-util.js'
import { hasOfflineAccess, isScopeSubset } from './access-tokens.js'
import type { SigningKeys } from './keys.js'
import type { RefreshTokenStore } from './refresh-tokens.js'
import type { SimState } from './state.js'

export const TOKEN_PATH = '/oauth2/v1/token'
export const JWKS_PATH = '/admin/v1/SigningCert/jwk'
const REFRESH_TOKEN_GRANT = 'refresh_token'

export interface IdcsDeps {
  state: SimState
  keys: SigningKeys
  clients: RegisteredClients
  refreshTokens: RefreshTokenStore
  faults: SimFaultQueue
  refreshTokenLifetimeS: number
  /** Sign an access token and record it as issued. */
  mintAccessToken(r: { clientId: string; user: string; scope: string }): Promise<{
    token: string
    lifetimeS: number
  }>
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }

function oauthError(
  ctx: RequestContext,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  sendJson(ctx, status, { error, error_description: description }, { ...NO_STORE, ...headers })
}

function invalidGrant(ctx: RequestContext): void {
  oauthError(ctx, 400, 'invalid_grant', 'Invalid refresh token.')
}

async function refreshTokenGrant(
  ctx: RequestContext,
  deps: IdcsDeps,
  form: URLSearchParams,
  clientId: string,
): Promise<void> {
  const presented = form.get('refresh_token')
  if (!presented) {
    oauthError(ctx, 400, 'invalid_request', 'The refresh_token parameter is required.')
    return
  }
  const nowMs = deps.state.clock.now()
  const { state, grant } = deps.refreshTokens.inspect(presented, nowMs)
  ctx.call.refreshTokenState = state
  if (state === 'used') deps.state.stats.staleRefreshTokenUses++
  if (state !== 'current' || !grant || grant.clientId !== clientId) {
    invalidGrant(ctx)
    return
  }
  const requested = form.get('scope')
  if (requested !== null && !isScopeSubset(requested, grant.scope)) {
    oauthError(ctx, 400, 'invalid_scope', 'Requested scope is not granted to the refresh token.')
    return
  }
  // Rotate before any await so two concurrent uses of one token cannot both succeed.
  let newRefreshToken: string | undefined
  if (hasOfflineAccess(grant.scope)) {
    deps.refreshTokens.retire(presented)
    newRefreshToken = deps.refreshTokens.issue({
      ...grant,
      expiresAtMs: nowMs + deps.refreshTokenLifetimeS * 1000,
    })
  }
  const access = await deps.mintAccessToken({
    clientId,
    user: grant.user,
    scope: requested ?? grant.scope,
  })
  deps.state.stats.refreshGrants++
  const body: Record<string, unknown> = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.lifetimeS,
  }
  if (newRefreshToken) body.refresh_token = newRefreshToken
  sendJson(ctx, 200, body, NO_STORE)
}

async function handleToken(ctx: RequestContext, deps: IdcsDeps, forceInvalidGrant: boolean) {
  const contentType = ctx.req.headers['content-type'] ?? ''
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
    ctx.req.resume()
    oauthError(ctx, 400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded.')
    return
  }
  let body: Buffer
  try {
    body = await readBody(ctx.req, MAX_SMALL_BODY_BYTES)
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      oauthError(ctx, 400, 'invalid_request', 'Request body too large.')
    }
    return
  }
  const form = new URLSearchParams(body.toString('utf8'))
  const grantType = form.get('grant_type')
  if (grantType) ctx.call.grantType = grantType
  const client = authenticateClient(ctx.req.headers, form, deps.clients)
  ctx.call.clientAuth = client.kind
  if (forceInvalidGrant) {
    const presented = form.get('refresh_token')
    if (presented) {
      ctx.call.refreshTokenState = deps.refreshTokens.inspect(presented, deps.state.clock.now()).state
    }
    invalidGrant(ctx)
    return
  }
  if (client.kind === 'invalid') {
    const challenge: Record<string, string> =
      ctx.req.headers.authorization !== undefined ? { 'www-authenticate': 'Basic realm="IDCS"' } : {}
    oauthError(ctx, 401, 'invalid_client', 'Client authentication failed.', challenge)
    return
  }
  if (!grantType) {
    oauthError(ctx, 400, 'invalid_request', 'The grant_type parameter is required.')
    return
  }
  if (grantType !== REFRESH_TOKEN_GRANT) {
    oauthError(ctx, 400, 'unsupported_grant_type', 'Invalid grant type.')
    return
  }
  await refreshTokenGrant(ctx, deps, form, client.clientId)
}

function notFound(ctx: RequestContext): void {
  ctx.req.resume()
  sendJson(ctx, 404, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    status: '404',
    detail: 'Resource not found.',
  })
}

export function createIdcsHandler(deps: IdcsDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const ctx = createContext('idcs', req, res, deps.state)
    const path = ctx.url.pathname
    const isTokenCall = req.method === 'POST' && path === TOKEN_PATH
    if (isTokenCall) deps.state.stats.tokenCalls++
    const fault = deps.faults.take(isTokenCall)
    const outcome = fault ? await applyFault(ctx, 'idcs', fault) : 'continue'
    if (outcome === 'handled') return
    if (isTokenCall) {
      await handleToken(ctx, deps, outcome === 'invalid_grant')
    } else if (req.method === 'GET' && path === JWKS_PATH) {
      req.resume()
      sendJson(ctx, 200, { keys: [deps.keys.publicJwk] })
    } else {
      notFound(ctx)
    }
  }
}
