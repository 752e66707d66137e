// Test keys: an RSA key pair as PEM, and a self-signed certificate made by openssl (when available).
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { registerSecret } from '../../helpers.js'

export interface PemPair {
  privateKeyPem: string
  publicKeyPem: string
}

export function rsaPem(): PemPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  // the key's body (without the PEM armour) must never be logged
  registerSecret(privateKeyPem.split('\n')[1] as string)
  return {
    privateKeyPem,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

/**
 * Writes key.pem and cert.pem into dir; undefined when openssl is missing. `ip` makes a server
 * certificate for that address (CN and subjectAltName).
 */
export function selfSigned(
  dir: string,
  ip?: string,
): { keyPath: string; certPath: string; certificatePem: string } | undefined {
  const keyPath = join(dir, 'key.pem')
  const certPath = join(dir, 'cert.pem')
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${ip ?? 'oac-proxy-test'}`,
        ...(ip ? ['-addext', `subjectAltName=IP:${ip}`] : []),
        '-days',
        '2',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'ignore' },
    )
  } catch {
    return undefined
  }
  return { keyPath, certPath, certificatePem: readFileSync(certPath, 'utf8') }
}
