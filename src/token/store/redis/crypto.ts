// Encryption at rest: AES-256-GCM with the credential identity and version as associated data, key ids for rotation.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { ProxyError } from '../../../shared/errors.js'

export const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const ENCRYPTED = 'a256gcm'
const PLAIN = 'plain'

/** A decoded key and its id (a short hash that names it in stored values; it reveals nothing of the key). */
export interface EncryptionKey {
  readonly id: string
  readonly bytes: Buffer
}

/**
 * Decodes a key given as base64 (what `openssl rand -base64 32` prints; surrounding whitespace ignored).
 * The error names `key` and says how to make a good one, never quoting the value.
 */
export function parseEncryptionKey(text: string, key = 'store.encryptionKey'): EncryptionKey {
  const trimmed = typeof text === 'string' ? text.trim() : ''
  const howTo = 'make one with: openssl rand -base64 32'
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed))
    throw new ProxyError('config_invalid', `${key}: not base64; it must be 32 random bytes in base64 (${howTo})`)
  const bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  if (bytes.length !== KEY_BYTES)
    throw new ProxyError(
      'config_invalid',
      `${key}: decodes to ${bytes.length} bytes, AES-256-GCM needs exactly ${KEY_BYTES} (${howTo})`,
    )
  return keyFromBytes(bytes)
}

export function keyFromBytes(bytes: Buffer): EncryptionKey {
  const id = createHash('sha256').update('oac-token-proxy key id\0').update(bytes).digest('base64url').slice(0, 8)
  return { id, bytes: Buffer.from(bytes) }
}

/**
 * Seals and opens stored values. `current` encrypts; `previous` keys are accepted for reading only, so a
 * fleet can roll to a new key: first add it everywhere as current with the old one as previous.
 * `null` as current means the explicit opt-out: values are stored readable (the caller logs that loudly).
 */
export class StateCipher {
  private readonly byId = new Map<string, EncryptionKey>()
  constructor(
    private readonly current: EncryptionKey | null,
    previous: EncryptionKey[] = [],
  ) {
    for (const k of [...previous, ...(current ? [current] : [])]) this.byId.set(k.id, k)
  }

  static unencrypted(): StateCipher {
    return new StateCipher(null)
  }

  get encrypts(): boolean {
    return this.current !== null
  }

  get keyId(): string | undefined {
    return this.current?.id
  }

  /** `aad` binds the value to its credential and version: it cannot be replayed under another. */
  seal(plaintext: string, aad: string): string {
    if (!this.current) return `${PLAIN}.${Buffer.from(plaintext, 'utf8').toString('base64url')}`
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.current.bytes, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(aad, 'utf8'))
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    const parts = [ENCRYPTED, this.current.id, iv, ct, cipher.getAuthTag()]
    return parts.map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.')
  }

  /** Throws store_state_unreadable, naming the cause but never the value. */
  open(sealed: string, aad: string): string {
    const parts = sealed.split('.')
    if (parts[0] === PLAIN && parts.length === 2) {
      if (this.current)
        throw unreadable(
          'the stored state is not encrypted but an encryption key is configured',
          'write it again with encryption (log in or migrate again), or remove the key to read it',
        )
      return Buffer.from(parts[1] as string, 'base64url').toString('utf8')
    }
    if (parts[0] !== ENCRYPTED || parts.length !== 5) throw unreadable('the stored value has an unknown format')
    const [, kid, ivText, ctText, tagText] = parts as [string, string, string, string, string]
    const key = this.byId.get(kid)
    if (!key)
      throw unreadable(
        `the stored state was encrypted with key ${kid}, which is not configured` +
          (this.current ? ` (current key is ${this.current.id})` : ' (no key configured)'),
        'configure that key (as the current key or a previous one)',
      )
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, Buffer.from(ivText, 'base64url'), {
        authTagLength: TAG_BYTES,
      })
      decipher.setAAD(Buffer.from(aad, 'utf8'))
      decipher.setAuthTag(Buffer.from(tagText, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]).toString('utf8')
    } catch {
      throw unreadable(
        'the stored state failed authentication: it was changed, or belongs to another credential or version',
      )
    }
  }
}

function unreadable(message: string, hint?: string): ProxyError {
  return new ProxyError('store_state_unreadable', message, hint === undefined ? {} : { hint })
}
