// Access tokens as IDCS mints them: scope parsing into audience + claims, and RS256 signing.

import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { IDCS_ADMIN_SCOPE, SIM_AUDIENCE, SIM_ISSUER, SIM_OAC_SCOPE } from './constants.js'
import type { SigningKeys } from './keys.js'

export const OFFLINE_ACCESS = 'offline_access'

export function splitScope(scope: string): string[] {
  return scope.split(' ').filter((s) => s.length > 0)
}

export function hasOfflineAccess(scope: string): boolean {
  return splitScope(scope).includes(OFFLINE_ACCESS)
}

/** True when every scope value in `requested` appears in `original`. */
export function isScopeSubset(requested: string, original: string): boolean {
  const granted = new Set(splitScope(original))
  const wanted = splitScope(requested)
  return wanted.length > 0 && wanted.every((s) => granted.has(s))
}

/** The scope values the simulated domain knows: the OAC resource scope, offline_access, the IDCS admin scope. */
export const ACCEPTED_SCOPES: readonly string[] = [SIM_AUDIENCE + SIM_OAC_SCOPE, OFFLINE_ACCESS, IDCS_ADMIN_SCOPE]

/** The requested scope when every value is known, else why it is refused (for an invalid_scope answer). */
export function checkScope(scope: string | null): { scope: string } | { problem: string } {
  const values = splitScope(scope ?? '')
  if (scope === null || values.length === 0) return { problem: 'The scope parameter is required.' }
  const unknown = values.find((v) => !ACCEPTED_SCOPES.includes(v))
  return unknown === undefined ? { scope } : { problem: `Invalid scope: ${unknown}.` }
}

/**
 * Split an IDCS scope into audiences and resource scopes: a value such as
 * 'https://x.example.comurn:opc:resource:consumer::all' is the resource app's
 * audience followed by its scope. offline_access is dropped.
 */
export function resolveScope(scope: string, idcsUrl?: string): { audiences: string[]; scopes: string[] } {
  const audiences: string[] = []
  const scopes: string[] = []
  for (const value of splitScope(scope)) {
    if (value === OFFLINE_ACCESS) continue
    if (value === IDCS_ADMIN_SCOPE && idcsUrl && !audiences.includes(idcsUrl)) audiences.push(idcsUrl)
    const urn = value.indexOf('urn:')
    if (/^https?:\/\//.test(value) && urn > 0) {
      const audience = value.slice(0, urn)
      if (!audiences.includes(audience)) audiences.push(audience)
      scopes.push(value.slice(urn))
    } else {
      scopes.push(value)
    }
  }
  if (audiences.length === 0) audiences.push(SIM_ISSUER)
  return { audiences, scopes }
}

export interface AccessTokenRequest {
  clientId: string
  user: string
  scope: string
  lifetimeS: number
  nowMs: number
  /** 'client' for client_credentials tokens: `sub` is the client id and there is no user. */
  subType?: 'user' | 'client'
  /** The audience of the IDCS admin scope. */
  idcsUrl?: string
}

export async function signAccessToken(keys: SigningKeys, r: AccessTokenRequest): Promise<string> {
  const { audiences, scopes } = resolveScope(r.scope, r.idcsUrl)
  const iat = Math.floor(r.nowMs / 1000)
  const isClient = r.subType === 'client'
  const userClaims = isClient
    ? { sub_type: 'client' }
    : {
        user_displayname: displayName(r.user),
        user_id: 'sim-' + Buffer.from(r.user).toString('hex').slice(0, 24),
        sub_type: 'user',
      }
  return new SignJWT({
    ...userClaims,
    client_id: r.clientId,
    client_name: r.clientId,
    tenant: 'idcs-sim',
    scope: scopes.join(' '),
    tok_type: 'AT',
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: keys.kid, x5t: keys.x5t })
    .setSubject(isClient ? r.clientId : r.user)
    .setAudience(audiences)
    .setIssuer(SIM_ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(iat + r.lifetimeS)
    .setJti(randomUUID().replace(/-/g, ''))
    .sign(keys.privateKey)
}

function displayName(user: string): string {
  const local = user.split('@')[0] ?? user
  return local
    .split(/[._-]+/)
    .filter((p) => p.length > 0)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join(' ')
}
