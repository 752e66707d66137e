// `doctor` on a fleet's shared store: connects (PING), checks authentication and ACL, TLS, and that the encryption
// key opens each credential's stored state; every failure names its fix. Loaded only when the config has a store.
import type { ProxyConfig } from '../config/types.js'
import { openRedisStore, storeIdentityOf } from '../app/fleet-store.js'
import { isProxyError } from '../shared/errors.js'
import { createLogger } from '../shared/log.js'
import type { RedisTokenStore } from '../token/store/redis/index.js'

type CheckResult = 'ok' | 'warn' | 'fail'
type AddCheck = (name: string, result: CheckResult, detail: string) => void

/** The fix for a failed connection, from the store error's reason (never from a password or a value). */
export function connectionFix(message: string, usesTls: boolean): string {
  if (/TLS certificate not trusted|TLS handshake/.test(message))
    return usesTls
      ? "give the CA that signed the Redis server's certificate as tls.caFile (PEM), and check the host name matches the certificate"
      : 'the server speaks TLS: use a rediss:// URL'
  if (/NOPERM/.test(message))
    return "the ACL user lacks a permission: allow the store's keys and channels and commands, e.g. ACL SETUSER <user> ~<prefix>:* &<prefix>:* +hmget +eval +evalsha +set +ping +subscribe +publish"
  if (/WRONGPASS|NOAUTH|ERR AUTH|authentication/.test(message))
    return 'Redis refused the login: check store.username and store.password (an ACL user and its password, or requirepass for the default user)'
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/.test(message))
    return 'nothing answers there: check the host and port in store.url (or store.sentinel.nodes), that Redis runs, and that this host may reach it'
  if (/timed out|ECONNRESET|connection closed/.test(message))
    return usesTls
      ? 'no answer in time: check the port, firewall and store.connectTimeoutSeconds'
      : 'no answer in time: check the port and firewall; if the server speaks TLS, use a rediss:// URL'
  return 'check that Redis runs and is reachable, and the store settings (docs/redis-store.md)'
}

function explain(err: unknown): string {
  return isProxyError(err) ? `${err.code}: ${err.message}` : String(err)
}

/** Runs the store's checks; resolves once each has been recorded. */
export async function checkStore(config: ProxyConfig, add: AddCheck): Promise<void> {
  const settings = config.store as NonNullable<ProxyConfig['store']>
  const usesTls = settings.url?.startsWith('rediss:') ?? false
  let redis: RedisTokenStore
  try {
    redis = await openRedisStore(config, settings, createLogger({ level: 'silent' }))
  } catch (err) {
    const message = explain(err)
    add('store connection', 'fail', `${message}; fix: ${connectionFix(message, usesTls)}`)
    return
  }
  try {
    const d = redis.describe()
    add(
      'store connection',
      'ok',
      `PING answered by ${d.target} (${d.kind === 'sentinel' ? 'Sentinel' : 'single node'})`,
    )
    if (d.kind === 'sentinel') add('store TLS', 'ok', 'Sentinel connections are plain TCP (no TLS)')
    else if (usesTls)
      add('store TLS', 'ok', `rediss://: the certificate was verified${config.tls.ca ? ' against tls.caFile' : ''}`)
    else
      add(
        'store TLS',
        'warn',
        'redis:// sends the tokens (sealed) and the password in clear over the network; use rediss:// across hosts',
      )
    add(
      'store encryption',
      d.encrypted ? 'ok' : 'warn',
      d.encrypted
        ? `AES-256-GCM with key id ${d.keyId ?? '?'}`
        : 'store.encryption is none: anyone who can read Redis can use the tokens; set store.encryptionKey',
    )
    await checkStoredStates(config, redis, add)
  } finally {
    await redis.close()
  }
}

/** Each credential's state: readable (ACL) and decrypted by the configured keys; a subscription is allowed. */
async function checkStoredStates(config: ProxyConfig, redis: RedisTokenStore, add: AddCheck): Promise<void> {
  for (const c of config.credentials) {
    const store = redis.credential(storeIdentityOf(c))
    const name = `store state ${c.name}`
    try {
      const seen = await store.read()
      const unsubscribe = await store.onAnnouncement(() => {})
      await unsubscribe()
      if (!seen) add(name, 'warn', `nothing stored yet (version 0): run oac-token-proxy login, or migrate --to redis`)
      else
        add(
          name,
          'ok',
          `version ${seen.version}, written by ${seen.state.writtenBy} at ${new Date(seen.state.updatedAtMs).toISOString()}, decrypted${seen.state.refreshToken ? ', holds a refresh token' : ''}`,
        )
    } catch (err) {
      const message = explain(err)
      const fix =
        isProxyError(err) && err.code === 'store_state_unreadable'
          ? `give the key that sealed it as store.encryptionKey or store.previousEncryptionKey (the same on every replica); if that key is lost, delete the state (redis-cli DEL ${store.keys.state}) and run oac-token-proxy login`
          : connectionFix(message, false)
      add(name, 'fail', `${message}; fix: ${fix}`)
    }
  }
}
