// The simulated IDCS signing key: an RS256 key pair generated per instance, and its public JWK.

import { createHash } from 'node:crypto'
import { exportJWK, exportSPKI, generateKeyPair } from 'jose'
import type { CryptoKey, JWK } from 'jose'
import { SIM_KEY_ID } from './constants.js'

export interface SigningKeys {
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  readonly kid: string
  /** base64url SHA-1 thumbprint (of the public key's SPKI, standing in for the certificate). */
  readonly x5t: string
  /** The public key as IDCS publishes it at /admin/v1/SigningCert/jwk. */
  readonly publicJwk: JWK
}

export async function createSigningKeys(): Promise<SigningKeys> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const pem = await exportSPKI(publicKey)
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
  const x5t = createHash('sha1').update(der).digest('base64url')
  const jwk = await exportJWK(publicKey)
  const publicJwk: JWK = { ...jwk, kid: SIM_KEY_ID, alg: 'RS256', use: 'sig', x5t }
  return { privateKey, publicKey, kid: SIM_KEY_ID, x5t, publicJwk }
}
