// The Redis store's public surface: open a store, take a credential's view, read/write/seed/lock/subscribe.
export { RedisTokenStore, CredentialStore, defaultReplicaId } from './store.js'
export type {
  SharedState,
  StateInput,
  VersionedState,
  WriteResult,
  RedisStoreOptions,
  StoreDescription,
} from './store.js'
export {
  resolveConnection,
  redactRedisUrl,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
} from './connection.js'
export type { RedisConnectionConfig, SentinelConfig } from './connection.js'
export { StateCipher, parseEncryptionKey, keyFromBytes, KEY_BYTES } from './crypto.js'
export type { EncryptionKey } from './crypto.js'
export { credentialKeys, canonicalIdentity, DEFAULT_KEY_PREFIX } from './keys.js'
export type { CredentialIdentity, CredentialKeys } from './keys.js'
export { HeldLock, DEFAULT_LOCK_TTL_MS, lockTtlFor } from './lock.js'
export type { AcquireOptions } from './lock.js'
export { StoreMetrics } from './metrics.js'
export type { StoreMetricsSnapshot, OperationSample, StoreOperation, StoreResult } from './metrics.js'
export type { Announcement } from './subscription.js'
export type { LinkEvent } from './link.js'
