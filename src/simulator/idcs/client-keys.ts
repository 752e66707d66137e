// Keys and certificates registered for clients, and verification of the JWT assertions they sign.

import { X509Certificate, createHash, createPublicKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose'
import type { JWTPayload, ProtectedHeaderParameters } from 'jose'
import { ASSERTION_IAT_SKEW_S } from '../constants.js'
import type { RegisterClientKeyOptions } from '../types.js'

export interface AssertionExpectations {
  /** 'user': `sub` must be a known user; 'client': `sub` must be the client id. */
  kind: 'user' | 'client'
  /** The client whose keys must have signed it; `iss` must equal it. Undefined: taken from `iss`. */
  clientId?: string
  nowMs: number
  audiences: readonly string[]
  isUser(name: string): boolean
}

export type AssertionResult = { ok: true; clientId: string; sub: string } | { ok: false; reason: string }

interface ClientKeys {
  byKid: Map<string, KeyObject>
  byX5t: Map<string, KeyObject>
}

function rsaKey(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== 'rsa') throw new TypeError('client keys must be RSA keys')
  return key
}

function fail(reason: string): AssertionResult {
  return { ok: false, reason }
}

function audiences(payload: JWTPayload): unknown[] {
  if (typeof payload.aud === 'string') return [payload.aud]
  return Array.isArray(payload.aud) ? payload.aud : []
}

/** The claim checks after the signature: sub, aud, exp, iat, jti (replay is checked by the caller). */
function claimProblem(payload: JWTPayload, clientId: string, e: AssertionExpectations): string | undefined {
  const sub = payload.sub
  if (e.kind === 'user' && (typeof sub !== 'string' || !e.isUser(sub))) return 'assertion subject is not a known user'
  if (e.kind === 'client' && sub !== clientId) return 'assertion subject is not the client'
  if (!audiences(payload).some((a) => typeof a === 'string' && e.audiences.includes(a))) {
    return 'assertion audience is not accepted'
  }
  if (typeof payload.exp !== 'number') return 'assertion exp is missing'
  if (payload.exp * 1000 <= e.nowMs) return 'assertion has expired'
  if (typeof payload.iat !== 'number') return 'assertion iat is missing'
  if (payload.iat * 1000 > e.nowMs + ASSERTION_IAT_SKEW_S * 1000) return 'assertion is issued in the future'
  if (typeof payload.jti !== 'string' || payload.jti.length === 0) return 'assertion jti is missing'
  return undefined
}

export class ClientKeyRegistry {
  readonly #clients = new Map<string, ClientKeys>()
  readonly #seenJtis = new Set<string>()

  /** Register a key under a kid and/or a certificate under its x5t; throws on a bad PEM or a non-RSA key. */
  register(clientId: string, opts: RegisterClientKeyOptions): void {
    const entry = this.#clients.get(clientId) ?? { byKid: new Map(), byX5t: new Map() }
    if (opts.publicKeyPem !== undefined && opts.certificatePem !== undefined) {
      throw new TypeError('give publicKeyPem or certificatePem, not both')
    }
    if (opts.certificatePem !== undefined) {
      const cert = new X509Certificate(opts.certificatePem)
      const key = rsaKey(cert.publicKey)
      entry.byX5t.set(createHash('sha1').update(cert.raw).digest('base64url'), key)
      if (opts.kid !== undefined) entry.byKid.set(opts.kid, key)
    } else if (opts.publicKeyPem !== undefined) {
      if (!opts.kid) throw new TypeError('a public key needs a kid (the certificate alias)')
      entry.byKid.set(opts.kid, rsaKey(createPublicKey(opts.publicKeyPem)))
    } else {
      throw new TypeError('publicKeyPem or certificatePem is required')
    }
    this.#clients.set(clientId, entry)
  }

  #find(clientId: string, header: ProtectedHeaderParameters): KeyObject | undefined {
    const entry = this.#clients.get(clientId)
    if (!entry) return undefined
    const byKid = typeof header.kid === 'string' ? entry.byKid.get(header.kid) : undefined
    return byKid ?? (typeof header.x5t === 'string' ? entry.byX5t.get(header.x5t) : undefined)
  }

  /** Verify an assertion; on success its jti is remembered and can never be used again. */
  async verify(jwt: string, e: AssertionExpectations): Promise<AssertionResult> {
    let header: ProtectedHeaderParameters
    let payload: JWTPayload
    try {
      header = decodeProtectedHeader(jwt)
      payload = decodeJwt(jwt)
    } catch {
      return fail('assertion is not a well-formed JWT')
    }
    if (header.alg !== 'RS256') return fail('assertion algorithm must be RS256')
    const clientId = e.clientId ?? payload.iss
    if (typeof payload.iss !== 'string' || payload.iss !== clientId) return fail('assertion issuer is not the client')
    const key = this.#find(clientId, header)
    if (!key) return fail('assertion signing key is not registered for the client')
    try {
      await compactVerify(jwt, key, { algorithms: ['RS256'] })
    } catch {
      return fail('assertion signature is invalid')
    }
    const problem = claimProblem(payload, clientId, e)
    if (problem) return fail(problem)
    const jtiKey = `${clientId}\n${String(payload.jti)}`
    if (this.#seenJtis.has(jtiKey)) return fail('assertion jti has already been used')
    this.#seenJtis.add(jtiKey)
    return { ok: true, clientId, sub: String(payload.sub) }
  }
}
