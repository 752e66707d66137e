// Bearer-token check in front of the simulated OAC REST API (signature, expiry, audience, scope).

import { decodeJwt, errors, jwtVerify } from 'jose'
import type { JWTPayload } from 'jose'
import { SIM_OAC_SCOPE } from '../constants.js'
import { sendBody, sendJson } from '../http-util.js'
import type { RequestContext } from '../http-util.js'
import type { SigningKeys } from '../keys.js'
import { splitScope } from '../access-tokens.js'

const CHALLENGE = { 'www-authenticate': 'Bearer error="invalid_token"' }

const EXPIRED_HTML =
  '<!DOCTYPE html>\n<html><head><title>401 Unauthorized</title></head>' +
  '<body><h1>Unauthorized</h1><p>The access token has expired.</p></body></html>\n'

function jtiOf(token: string): string | undefined {
  try {
    const jti = decodeJwt(token).jti
    return typeof jti === 'string' ? jti : undefined
  } catch {
    return undefined
  }
}

function reject(ctx: RequestContext, message: string): void {
  ctx.state.stats.oacUnauthorized++
  ctx.req.resume()
  sendJson(ctx, 401, { code: 'NotAuthenticated', message }, CHALLENGE)
}

/**
 * Verify the request's bearer token. On success returns its claims; on failure answers
 * 401 (HTML for an expired token, JSON otherwise) and returns undefined.
 */
export async function authenticateOac(
  ctx: RequestContext,
  keys: SigningKeys,
  audience: string,
): Promise<JWTPayload | undefined> {
  const header = ctx.req.headers.authorization
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  const token = match?.[1]
  if (!token) {
    ctx.call.tokenState = 'missing'
    reject(ctx, 'Authentication is required: send an OAuth bearer token.')
    return undefined
  }
  const jti = jtiOf(token)
  if (jti) ctx.call.tokenJti = jti
  try {
    const { payload } = await jwtVerify(token, keys.publicKey, {
      algorithms: ['RS256'],
      audience,
      currentDate: new Date(ctx.state.clock.now()),
    })
    if (payload.sub_type === 'client') {
      // Client-credentials tokens carry no user, and OAC works only on behalf of users.
      ctx.call.tokenState = 'invalid'
      reject(ctx, 'The access token has no user: OAC does not accept client credentials tokens.')
      return undefined
    }
    const scope = typeof payload.scope === 'string' ? payload.scope : ''
    if (!splitScope(scope).includes(SIM_OAC_SCOPE)) {
      ctx.call.tokenState = 'invalid'
      reject(ctx, 'The access token does not carry the required scope.')
      return undefined
    }
    ctx.call.tokenState = 'valid'
    return payload
  } catch (err) {
    if (err instanceof errors.JWTExpired) {
      ctx.call.tokenState = 'expired'
      ctx.state.stats.oacExpiredTokenRequests++
      ctx.state.stats.oacUnauthorized++
      ctx.req.resume()
      sendBody(ctx, 401, EXPIRED_HTML, 'text/html;charset=UTF-8', CHALLENGE)
      return undefined
    }
    ctx.call.tokenState = 'invalid'
    reject(ctx, 'The access token is not valid.')
    return undefined
  }
}
