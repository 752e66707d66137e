// Test helper: opens RedisTokenStores on a test redis-server with a fresh key, closed in teardown.
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import {
  keyFromBytes,
  RedisTokenStore,
  StateCipher,
  type CredentialIdentity,
  type EncryptionKey,
  type RedisConnectionConfig,
  type RedisStoreOptions,
} from '../../src/token/store/redis/index.js'
import { registerSecret } from '../helpers.js'

export const IDENTITY: CredentialIdentity = {
  identityDomainUrl: 'https://idcs-test.identity.example.com',
  clientId: 'client-a',
  credentialName: 'default',
}

/** A random key; its base64 form is registered with the leak scan. */
export function testKey(): EncryptionKey {
  const bytes = randomBytes(32)
  registerSecret(bytes.toString('base64'))
  return keyFromBytes(bytes)
}

/** A secret-looking token (registered with the leak scan). */
export function secretToken(name: string): string {
  const value = `${name}-${randomBytes(24).toString('base64url')}`
  registerSecret(value)
  return value
}

export async function openTestStore(
  t: Test,
  connection: RedisConnectionConfig,
  options: Partial<RedisStoreOptions> = {},
): Promise<RedisTokenStore> {
  const store = await RedisTokenStore.open({
    connection: { connectTimeoutMs: 1_000, commandTimeoutMs: 1_000, ...connection },
    cipher: new StateCipher(testKey()),
    ...options,
  })
  t.teardown(() => store.close())
  return store
}
