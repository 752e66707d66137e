// Options of the shared token store: replicas that share one login keep its state in Redis (or Valkey).
import { MAX_DURATION_SECONDS, type OptionSpec } from './spec.js'

export const DEFAULT_STORE_KEY_PREFIX = 'oac-token-proxy'
export const DEFAULT_STORE_LOCK_WAIT_SECONDS = 10
export const DEFAULT_STORE_COMMAND_TIMEOUT_SECONDS = 2
export const DEFAULT_STORE_CONNECT_TIMEOUT_SECONDS = 5

/** Where a fleet of replicas keeps its one credential state; without store.url or store.sentinel, the state file. */
export const STORE_OPTIONS: readonly OptionSpec[] = [
  {
    path: 'store.url',
    type: 'string',
    pattern: '^rediss?://',
    description:
      'Share the credential state between replicas in Redis or Valkey: redis://[user@]host[:port][/db], or rediss:// for TLS (tls.caFile is trusted). Give the password as store.password, not in the URL. Without store.url or store.sentinel the state file is used.',
  },
  {
    path: 'store.username',
    type: 'string',
    description: 'ACL user for Redis (overrides the one in store.url).',
  },
  {
    path: 'store.password',
    type: 'secret',
    description: 'Password of the Redis ACL user (or requirepass). Give it as {env: NAME} or {file: PATH}.',
  },
  {
    path: 'store.sentinel.masterName',
    type: 'string',
    description: 'Use a Sentinel-managed Redis instead of store.url: the master name the sentinels monitor.',
  },
  {
    path: 'store.sentinel.nodes',
    type: 'stringList',
    noEnv: true,
    description: 'The sentinels, as host:port (26379 when no port is given).',
  },
  {
    path: 'store.sentinel.password',
    type: 'secret',
    description: "The sentinels' own password (requirepass in sentinel.conf), if they have one.",
  },
  {
    path: 'store.keyPrefix',
    type: 'string',
    default: DEFAULT_STORE_KEY_PREFIX,
    pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$',
    description: 'Namespace of every key and channel; unrelated deployments sharing one Redis may use different ones.',
  },
  {
    path: 'store.encryptionKey',
    type: 'secret',
    description:
      'Key that encrypts the tokens at rest in Redis (AES-256-GCM): 32 random bytes in base64, as `openssl rand -base64 32` prints. The same on every replica. Give it as {file: PATH} or {env: NAME}.',
  },
  {
    path: 'store.previousEncryptionKey',
    type: 'secret',
    description:
      'The key before a rotation: values it sealed are still read, and written again with store.encryptionKey.',
  },
  {
    path: 'store.encryption',
    type: 'enum',
    enum: ['required', 'none'],
    default: 'required',
    description:
      'none stores tokens in Redis unencrypted (logged as a warning at every start): only for a Redis nobody else can read.',
  },
  {
    path: 'store.lockWaitSeconds',
    type: 'number',
    default: DEFAULT_STORE_LOCK_WAIT_SECONDS,
    minimum: 0,
    maximum: MAX_DURATION_SECONDS,
    description:
      "How long a replica waits for another replica's refresh (the store's lock) before it answers 503 store_busy.",
  },
  {
    path: 'store.commandTimeoutSeconds',
    type: 'number',
    default: DEFAULT_STORE_COMMAND_TIMEOUT_SECONDS,
    minimum: 0.05,
    maximum: 60,
    description: "Longest wait for one Redis command's answer.",
  },
  {
    path: 'store.connectTimeoutSeconds',
    type: 'number',
    default: DEFAULT_STORE_CONNECT_TIMEOUT_SECONDS,
    minimum: 0.05,
    maximum: 300,
    description: 'Longest wait to open a connection to Redis (TCP, TLS and AUTH).',
  },
  {
    path: 'store.replicaId',
    type: 'string',
    pattern: '^[\\x21-\\x7e]{1,200}$',
    description:
      'Names this replica in the store and in status (default: host name, process id and a random suffix). Never a secret.',
  },
]
