// Signs RS256 JWT assertions (user assertions and client assertions) with jose, loaded on the first signature.
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto'
import type { JWTHeaderParameters } from 'jose'
import { systemClock, type Clock } from '../shared/clock.js'
import type { AssertionKey } from '../config/types.js'

/** Assertions are short-lived: IDCS only needs them for the one token call. */
export const ASSERTION_LIFETIME_S = 300

const keyCache = new WeakMap<AssertionKey, KeyObject>()

function keyObject(key: AssertionKey): KeyObject {
  let k = keyCache.get(key)
  if (!k) {
    // createPrivateKey reads PKCS#8 and PKCS#1 PEM alike
    k = createPrivateKey(key.privateKey.reveal())
    keyCache.set(key, k)
  }
  return k
}

/** A signed assertion: sub and iss as given, aud from the key settings, a fresh jti. */
export async function signAssertion(
  key: AssertionKey,
  claims: { sub: string; iss: string },
  clock: Clock = systemClock,
  /** Replaces key.audience (a server that wants another aud). */
  audience: string = key.audience,
): Promise<string> {
  const nowS = Math.floor(clock.now() / 1000)
  const header: JWTHeaderParameters = { alg: 'RS256', typ: 'JWT' }
  if (key.keyId) header.kid = key.keyId
  else if (key.x5t) header.x5t = key.x5t
  const { SignJWT } = await import('jose')
  return new SignJWT({})
    .setProtectedHeader(header)
    .setSubject(claims.sub)
    .setIssuer(claims.iss)
    .setAudience(audience)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + ASSERTION_LIFETIME_S)
    .setJti(randomUUID())
    .sign(keyObject(key))
}
