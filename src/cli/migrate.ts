// `oac-token-proxy migrate`: moves each credential's state from the state file into the shared store, or back. It
// refuses to replace a newer state in the target (unless --force), writes Redis with the version check, and keeps the
// source as it was, so no refresh token is lost on the way.
import type { CredentialConfig, ProxyConfig } from '../config/types.js'
import { openRedisStore, storeIdentityOf } from '../app/fleet-store.js'
import { forCommand } from './shared-store.js'
import { claimCredential } from '../app/managers.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { FileStore } from '../token/store/file.js'
import type { CredentialStore, StateInput, VersionedState } from '../token/store/redis/index.js'
import type { CredentialState } from '../token/store/types.js'

export type MigrateDirection = 'redis' | 'file'

export interface MigrateOptions {
  to: MigrateDirection
  credentials: readonly CredentialConfig[]
  force: boolean
  logger: Logger
  nowMs?: number
}

/** What happened to one credential. */
export interface MigrateOutcome {
  credential: string
  result: 'migrated' | 'unchanged' | 'nothing'
  /** The store's version after the migration (to redis), or the version copied (to file). */
  version?: number
}

interface Pair {
  c: CredentialConfig
  redis: CredentialStore
  seen: VersionedState | undefined
  file: CredentialState | undefined
}

const iso = (ms: number | undefined): string => (ms === undefined ? 'an unknown time' : new Date(ms).toISOString())

/** The state file's entry as the shared store keeps it (an access token only while it has time left). */
function toStateInput(file: CredentialState, nowMs: number): StateInput {
  const input: StateInput = {}
  if (file.refreshToken) input.refreshToken = file.refreshToken
  if (file.subject) input.subject = file.subject
  if (file.accessToken && (file.accessTokenExpiresAtMs ?? 0) > nowMs) {
    input.accessToken = file.accessToken
    input.accessTokenExpiresAtMs = file.accessTokenExpiresAtMs as number
    if (file.accessTokenObtainedAtMs !== undefined) input.accessTokenObtainedAtMs = file.accessTokenObtainedAtMs
  } else if (file.importedAccessToken && (file.importedAccessTokenExpiresAtMs ?? 0) > nowMs) {
    input.accessToken = file.importedAccessToken
    input.accessTokenExpiresAtMs = file.importedAccessTokenExpiresAtMs as number
  }
  return input
}

/** The shared store's state as a state-file entry. */
function toFileState(seen: VersionedState, nowMs: number): CredentialState {
  const { state } = seen
  const out: CredentialState = { updatedAtMs: Math.max(nowMs, state.updatedAtMs) }
  if (state.refreshToken) {
    out.refreshToken = state.refreshToken
    out.refreshTokenObtainedAtMs = state.updatedAtMs
  }
  if (state.subject) out.subject = state.subject
  if (state.accessToken && state.accessTokenExpiresAtMs !== undefined && state.accessTokenExpiresAtMs > nowMs) {
    out.accessToken = state.accessToken
    out.accessTokenExpiresAtMs = state.accessTokenExpiresAtMs
    if (state.accessTokenObtainedAtMs !== undefined) out.accessTokenObtainedAtMs = state.accessTokenObtainedAtMs
  }
  return out
}

function hasTokens(file: CredentialState | undefined, nowMs: number): file is CredentialState {
  if (!file) return false
  const input = toStateInput(file, nowMs)
  return Boolean(input.refreshToken || input.accessToken)
}

/** Why the target's state may not be replaced: it is newer than the source's (by when each was written). */
function refusal(pair: Pair, to: MigrateDirection): string | undefined {
  const { seen, file, c } = pair
  // the same refresh token on both sides: nothing would be replaced
  if (seen?.state.refreshToken && seen.state.refreshToken === file?.refreshToken) return undefined
  if (to === 'redis') {
    if (!seen || !hasTokens(file, 0)) return undefined
    if (seen.state.updatedAtMs < (file.updatedAtMs ?? 0)) return undefined
    return `credential ${c.name}: the shared store holds version ${seen.version}, written by ${seen.state.writtenBy} at ${iso(seen.state.updatedAtMs)}, newer than the state file's entry (written at ${iso(file.updatedAtMs)})`
  }
  if (!seen || !file?.refreshToken) return undefined
  if ((file.updatedAtMs ?? 0) <= seen.state.updatedAtMs) return undefined
  return `credential ${c.name}: the state file's entry (written at ${iso(file.updatedAtMs)}) is newer than the shared store's version ${seen.version} (written at ${iso(seen.state.updatedAtMs)})`
}

/** Migrates every given credential; refuses (and writes nothing) when a target is newer and --force is not given. */
export async function migrate(config: ProxyConfig, options: MigrateOptions): Promise<MigrateOutcome[]> {
  const settings = config.store
  if (!settings)
    throw new ProxyError('usage', 'migrate needs the shared store in the configuration (store.url or store.sentinel)', {
      hint: 'add store.url: redis://host:6379 and store.encryptionKey: {file: ...} (docs/redis-store.md), then run migrate again',
    })
  const nowMs = options.nowMs ?? Date.now()
  const redis = await forCommand(openRedisStore(config, settings, options.logger))
  try {
    // the state file's lock: a proxy serving from the file must stop first (state_locked names it)
    const file = FileStore.open(config.stateFile)
    try {
      const pairs: Pair[] = []
      for (const c of options.credentials) {
        claimCredential(file, c)
        const store = redis.credential(storeIdentityOf(c))
        pairs.push({ c, redis: store, seen: await forCommand(store.read()), file: file.load(c.name) })
      }
      const refused = options.force ? [] : pairs.map((p) => refusal(p, options.to)).filter((r) => r !== undefined)
      if (refused.length > 0)
        throw new ProxyError(
          'migrate_target_newer',
          `nothing was migrated: ${refused.join('; ')}; replacing it would drop its refresh token`,
          {
            hint: `check with oac-token-proxy status which is current; pass --force to replace the ${options.to === 'redis' ? "store's" : "file's"} state anyway`,
          },
        )
      const outcomes: MigrateOutcome[] = []
      for (const pair of pairs)
        outcomes.push(options.to === 'redis' ? await intoRedis(pair, nowMs) : await intoFile(pair, file, nowMs))
      return outcomes
    } finally {
      await file.close()
    }
  } finally {
    await redis.close()
  }
}

async function intoRedis(pair: Pair, nowMs: number): Promise<MigrateOutcome> {
  const { c, seen, file } = pair
  if (!hasTokens(file, nowMs)) return { credential: c.name, result: 'nothing' }
  if (seen && file.refreshToken && seen.state.refreshToken === file.refreshToken)
    return { credential: c.name, result: 'unchanged', version: seen.version }
  // the version check: a replica that wrote since the read makes this fail rather than be overwritten
  const written = await pair.redis.write(seen?.version ?? 0, toStateInput(file, nowMs))
  if (!written.ok)
    throw new ProxyError(
      'migrate_target_newer',
      `credential ${c.name}: the shared store changed during the migration (now version ${written.currentVersion}); nothing of it was replaced`,
      { hint: 'a replica is running on the store: run oac-token-proxy status, then migrate again if still needed' },
    )
  return { credential: c.name, result: 'migrated', version: written.version }
}

async function intoFile(pair: Pair, file: FileStore, nowMs: number): Promise<MigrateOutcome> {
  const { c, seen } = pair
  if (!seen || !(seen.state.refreshToken || seen.state.accessToken)) return { credential: c.name, result: 'nothing' }
  if (pair.file?.refreshToken && pair.file.refreshToken === seen.state.refreshToken)
    return { credential: c.name, result: 'unchanged', version: seen.version }
  await file.save(c.name, toFileState(seen, nowMs))
  return { credential: c.name, result: 'migrated', version: seen.version }
}
