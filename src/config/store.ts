// Resolves the store section: which Redis (URL or Sentinel), its secrets, the encryption key or the explicit opt-out.
import { Secret } from '../shared/secret.js'
import type { CredentialContext } from './credentials.js'
import { checkSecretFileMode, resolveSecret, type SecretRef } from './secrets.js'
import type { Reader, Tree } from './tree.js'
import { getPath } from './tree.js'
import type { StoreSettings } from './types.js'

/** The same context the credentials are resolved with. */
type Ctx = CredentialContext

const KEY_HINT =
  'create one with: openssl rand -base64 32 > store.key && chmod 600 store.key, and give it as store.encryptionKey: {file: store.key} on every replica'

/** The store settings, or undefined when neither store.url nor store.sentinel.masterName is set (the state file). */
export function resolveStore(tree: Tree, value: Reader, ctx: Ctx): StoreSettings | undefined {
  const url = value<string | undefined>('store.url')
  const masterName = value<string | undefined>('store.sentinel.masterName')
  const nodes = value<string[] | undefined>('store.sentinel.nodes')
  if (url === undefined && masterName === undefined) {
    if (hasStoreKeys(tree))
      ctx.problems.push(
        `store: set store.url (redis://host:6379) or store.sentinel.masterName with store.sentinel.nodes to share the state in Redis, or remove the store section (${ctx.where('store')})`,
      )
    return undefined
  }
  if (url !== undefined && masterName !== undefined)
    ctx.problems.push(`store.url and store.sentinel are exclusive: keep one (${ctx.where('store.url')})`)
  if (masterName !== undefined && (nodes === undefined || nodes.length === 0))
    ctx.problems.push(
      `store.sentinel.nodes: list the sentinels as host:port (${ctx.where('store.sentinel.masterName')})`,
    )
  const secret = (key: string): Secret | undefined => readSecret(tree, key, ctx)
  const encryption = value<'required' | 'none'>('store.encryption')
  const encryptionKey = secret('store.encryptionKey')
  const previousEncryptionKey = secret('store.previousEncryptionKey')
  if (
    encryption === 'required' &&
    encryptionKey === undefined &&
    !ctx.secretProblems.some((p) => p.startsWith('store.encryptionKey'))
  )
    ctx.problems.push(
      `store.encryptionKey is required to keep tokens in Redis: ${KEY_HINT}; or set store.encryption: none to store them unencrypted (${ctx.where('store.url')})`,
    )
  if (encryption === 'none' && encryptionKey !== undefined)
    ctx.problems.push(
      `store.encryption is none but store.encryptionKey is set: remove one of them (${ctx.where('store.encryption')})`,
    )
  const password = secret('store.password')
  const sentinelPassword = secret('store.sentinel.password')
  const seconds = (key: string): number => Math.round(value<number>(key) * 1000)
  if (url !== undefined) checkUrlPassword(url, ctx)
  return {
    ...(url !== undefined ? { url: withUrlPasswordRegistered(url) } : {}),
    ...(masterName !== undefined
      ? { sentinel: { masterName, nodes: nodes ?? [], ...(sentinelPassword ? { password: sentinelPassword } : {}) } }
      : {}),
    ...(value<string | undefined>('store.username') !== undefined ? { username: value<string>('store.username') } : {}),
    ...(password ? { password } : {}),
    keyPrefix: value<string>('store.keyPrefix'),
    encryption,
    encryptionKey,
    previousEncryptionKey,
    lockWaitMs: seconds('store.lockWaitSeconds'),
    commandTimeoutMs: seconds('store.commandTimeoutSeconds'),
    connectTimeoutMs: seconds('store.connectTimeoutSeconds'),
    replicaId: value<string | undefined>('store.replicaId'),
  }
}

/** Keys that only make sense with a store (the ones with defaults may stand in a shared example file). */
const STORE_ONLY_KEYS = [
  'store.username',
  'store.password',
  'store.sentinel.nodes',
  'store.sentinel.password',
  'store.encryptionKey',
  'store.previousEncryptionKey',
  'store.replicaId',
]

function hasStoreKeys(tree: Tree): boolean {
  return STORE_ONLY_KEYS.some((key) => getPath(tree, key) !== undefined)
}

function readSecret(tree: Tree, key: string, ctx: Ctx): Secret | undefined {
  const ref = getPath(tree, key) as SecretRef | undefined
  if (ref === undefined) return undefined
  try {
    return resolveSecret(ref, {
      key,
      origin: ctx.where(key),
      baseDir: ctx.baseDir,
      env: ctx.env,
      kind: 'plain',
      permissions: ctx.permissions,
      warnings: ctx.warnings,
      ...(ctx.configFile !== undefined && ctx.where(key) === ctx.configFile ? { configFile: ctx.configFile } : {}),
    })
  } catch (err) {
    ctx.problems.push((err as Error).message)
    ctx.secretProblems.push((err as Error).message)
    return undefined
  }
}

/** A password written into store.url in the configuration file is an inline secret: the file gets the secret-file check. */
function checkUrlPassword(url: string, ctx: Ctx): void {
  if (ctx.configFile === undefined || ctx.where('store.url') !== ctx.configFile) return
  let password = ''
  try {
    password = new URL(url).password
  } catch {
    return // the connection step reports an unparsable URL without echoing it
  }
  if (password === '') return
  try {
    checkSecretFileMode(ctx.configFile, 'store.url (its password)', ctx, true)
  } catch (err) {
    ctx.problems.push((err as Error).message)
    ctx.secretProblems.push((err as Error).message)
  }
}

/** A password written into store.url is a secret like the others: registered, so no message or log shows it. */
function withUrlPasswordRegistered(url: string): string {
  try {
    const password = decodeURIComponent(new URL(url).password)
    if (password) new Secret(password, 'store.url')
  } catch {
    // the connection step reports an unparsable URL without echoing it
  }
  return url
}
