// The simulated IDCS: token endpoint (every grant), device and authorize endpoints, admin API and JWKS.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { isScopeSubset, hasOfflineAccess } from '../access-tokens.js'
import { AUTHORIZE_PATH, handleAuthorize } from './authorize.js'
import {
  GRANT_AUTHORIZATION_CODE,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_DEVICE_CODE,
  GRANT_JWT_BEARER,
  GRANT_PASSWORD,
  GRANT_REFRESH_TOKEN,
} from '../constants.js'
import { DEVICE_PATH, VERIFICATION_PATH, handleDeviceAuthorization, handleVerificationPage } from './device-http.js'
import { applyFault } from '../faults.js'
import {
  authorizationCodeGrant,
  clientCredentialsGrant,
  deviceCodeGrant,
  invalidGrant,
  issueRefreshToken,
  jwtBearerGrant,
  passwordGrant,
  sendTokens,
} from './grants.js'
import type { TokenClient } from './grants.js'
import { createContext, sendJson } from '../http-util.js'
import type { RequestContext } from '../http-util.js'
import { APPS_PATH, handleApps } from './admin.js'
import { authenticate, oauthError, readForm, rejectClient } from './util.js'
import type { IdcsDeps } from './deps.js'

export type { IdcsDeps } from './deps.js'

export const TOKEN_PATH = '/oauth2/v1/token'
export const JWKS_PATH = '/admin/v1/SigningCert/jwk'

type Grant = (ctx: RequestContext, deps: IdcsDeps, form: URLSearchParams, client: TokenClient) => Promise<void>

const GRANTS: Record<string, Grant> = {
  [GRANT_REFRESH_TOKEN]: refreshTokenGrant,
  [GRANT_DEVICE_CODE]: deviceCodeGrant,
  [GRANT_AUTHORIZATION_CODE]: authorizationCodeGrant,
  [GRANT_PASSWORD]: passwordGrant,
  [GRANT_JWT_BEARER]: jwtBearerGrant,
  [GRANT_CLIENT_CREDENTIALS]: clientCredentialsGrant,
}

const INVALID_REFRESH_TOKEN = 'Invalid refresh token.'

async function refreshTokenGrant(
  ctx: RequestContext,
  deps: IdcsDeps,
  form: URLSearchParams,
  { clientId }: TokenClient,
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
    invalidGrant(ctx, INVALID_REFRESH_TOKEN)
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
    newRefreshToken = issueRefreshToken(deps, grant, nowMs)
  }
  const access = await deps.mintAccessToken({
    clientId,
    user: grant.user,
    scope: requested ?? grant.scope,
  })
  deps.state.stats.refreshGrants++
  sendTokens(ctx, access, newRefreshToken)
}

async function handleToken(ctx: RequestContext, deps: IdcsDeps, forceInvalidGrant: boolean) {
  const form = await readForm(ctx, (message) => oauthError(ctx, 400, 'invalid_request', message))
  if (!form) return
  const grantType = form.get('grant_type')
  if (grantType) ctx.call.grantType = grantType
  const client = await authenticate(ctx, deps, form)
  if (forceInvalidGrant) {
    const presented = form.get('refresh_token')
    if (presented) {
      ctx.call.refreshTokenState = deps.refreshTokens.inspect(presented, deps.state.clock.now()).state
    }
    invalidGrant(ctx, INVALID_REFRESH_TOKEN)
    return
  }
  if (client.kind === 'invalid') {
    rejectClient(ctx, client)
    return
  }
  if (!grantType) {
    oauthError(ctx, 400, 'invalid_request', 'The grant_type parameter is required.')
    return
  }
  const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined
  if (!grant) {
    oauthError(ctx, 400, 'unsupported_grant_type', 'Invalid grant type.')
    return
  }
  if (!deps.directory.allows(client.clientId, grantType)) {
    oauthError(ctx, 400, 'unauthorized_client', 'Client is not authorized for this grant type.')
    return
  }
  await grant(ctx, deps, form, client)
}

function notFound(ctx: RequestContext): void {
  ctx.req.resume()
  sendJson(ctx, 404, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    status: '404',
    detail: 'Resource not found.',
  })
}

async function route(ctx: RequestContext, deps: IdcsDeps, outcome: 'continue' | 'invalid_grant'): Promise<void> {
  const path = ctx.url.pathname
  const method = ctx.req.method
  if (method === 'POST' && path === TOKEN_PATH) {
    await handleToken(ctx, deps, outcome === 'invalid_grant')
  } else if (method === 'POST' && path === DEVICE_PATH) {
    await handleDeviceAuthorization(ctx, deps)
  } else if ((method === 'GET' || method === 'POST') && path === VERIFICATION_PATH) {
    await handleVerificationPage(ctx, deps)
  } else if (method === 'GET' && path === AUTHORIZE_PATH) {
    handleAuthorize(ctx, deps)
  } else if (method === 'GET' && path === JWKS_PATH) {
    ctx.req.resume()
    sendJson(ctx, 200, { keys: [deps.keys.publicJwk] })
  } else if (path === APPS_PATH || path.startsWith(APPS_PATH + '/')) {
    await handleApps(ctx, deps)
  } else {
    notFound(ctx)
  }
}

export function createIdcsHandler(deps: IdcsDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const ctx = createContext('idcs', req, res, deps.state)
    const isTokenCall = req.method === 'POST' && ctx.url.pathname === TOKEN_PATH
    if (isTokenCall) deps.state.stats.tokenCalls++
    const fault = deps.faults.take(isTokenCall)
    const outcome = fault ? await applyFault(ctx, 'idcs', fault) : 'continue'
    if (outcome === 'handled') return
    await route(ctx, deps, outcome)
  }
}
