// The Lua scripts that make a write, a seed and the lock's renewal and release atomic, run by EVALSHA with an EVAL fallback.
import { createHash } from 'node:crypto'
import { ErrorReply } from '@redis/client'
import { ProxyError } from '../../../shared/errors.js'
import type { RedisLink } from './link.js'

export interface LuaScript {
  readonly name: string
  readonly source: string
  readonly sha1: string
}

function script(name: string, source: string): LuaScript {
  return { name, source, sha1: createHash('sha1').update(source).digest('hex') }
}

// State hash fields: v = version (0 when absent), d = sealed state, w = writer replica, t = updatedAt (ms).
const READ_VERSION = `local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')`
const WRITE_AND_ANNOUNCE = `
redis.call('HSET', KEYS[1], 'v', string.format('%d', newVersion), 'd', ARGV[2], 'w', ARGV[3], 't', ARGV[4])
redis.call('PUBLISH', ARGV[5], cjson.encode({ v = newVersion, w = ARGV[3], k = ARGV[6] }))
return { 1, newVersion }`

/**
 * Compare-and-set: writes only if the stored version is ARGV[1] (0 = absent), as version ARGV[1] + 1, and
 * announces it in the same step. Returns {1, newVersion} or {0, currentVersion}.
 */
export const CAS_WRITE = script(
  'cas_write',
  `${READ_VERSION}
if current ~= tonumber(ARGV[1]) then return { 0, current } end
local newVersion = current + 1${WRITE_AND_ANNOUNCE}`,
)

/** Seed: writes version ARGV[1] only if the stored version is lower (an emptied Redis refilled: highest wins). */
export const SEED_WRITE = script(
  'seed_write',
  `${READ_VERSION}
local newVersion = tonumber(ARGV[1])
if current >= newVersion then return { 0, current } end${WRITE_AND_ANNOUNCE}`,
)

/** Extends the lock's TTL only while ARGV[1] still owns it. */
export const LOCK_RENEW = script(
  'lock_renew',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
)

/** Deletes the lock only if ARGV[1] owns it: a stale owner never deletes another's lock. */
export const LOCK_RELEASE = script(
  'lock_release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
)

/** EVALSHA, and EVAL once when the server does not know the script yet (a restart flushed its cache). */
export async function runScript(link: RedisLink, s: LuaScript, keys: string[], args: string[]): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args]
  try {
    return await link.command(['EVALSHA', s.sha1, ...tail], s.name)
  } catch (err) {
    const cause = err instanceof ProxyError ? err.cause : err
    if (!(cause instanceof ErrorReply) || !cause.message.startsWith('NOSCRIPT')) throw err
    return await link.command(['EVAL', s.source, ...tail], s.name)
  }
}
