// State file lock: one process per state file; the `<file>.lock` names its owner, a stale one is taken over.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lutimesSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { CREATE_NEW, tempPathFor } from '../../shared/atomic-file.js'
import { ProxyError } from '../../shared/errors.js'

/** The lock owner touches the lock this often; a lock from another host untouched for 3x this is stale. */
export const LOCK_HEARTBEAT_MS = 10_000

/** A lock file holds one small JSON object. */
const MAX_LOCK_FILE_BYTES = 64 * 1024

/** The lock file's mode, as the state file's: it may hold the admin key. */
const LOCK_FILE_MODE = 0o600

export interface LockInfo {
  pid: number
  hostname: string
  startedAtMs: number
  adminUrl?: string
  adminKey?: string
}

/** The lock of a state file, if a live process holds it. */
export function liveLock(statePath: string): LockInfo | undefined {
  const lockPath = `${statePath}.lock`
  const info = readLock(lockPath)
  return info && isAlive(info, lockPath) ? info : undefined
}

/** Touches the lock every LOCK_HEARTBEAT_MS, so that another host sees its owner alive; unref'd. */
export function keepLockFresh(lockPath: string): NodeJS.Timeout {
  const heartbeat = setInterval(() => {
    try {
      const now = new Date()
      // the link itself if someone swapped one in: never touch what it points to
      lutimesSync(lockPath, now, now)
    } catch {
      // lock removed from under us; nothing useful to do here
    }
  }, LOCK_HEARTBEAT_MS)
  heartbeat.unref()
  return heartbeat
}

/**
 * Reads a file through no symlink (ELOOP if it is one), checking its size on the open descriptor
 * before reading: 'too_large' instead of reading a huge file whole.
 */
export function readSmallFile(path: string, maxBytes: number): string | 'too_large' {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    if (fstatSync(fd).size > maxBytes) return 'too_large'
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}

/** Creates a new lock file (never an existing one, never through a symlink), writes its JSON and fsyncs it. */
function writeLockFile(path: string, info: LockInfo): void {
  const fd = openSync(path, CREATE_NEW, LOCK_FILE_MODE)
  try {
    writeSync(fd, JSON.stringify(info) + '\n')
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Replaces the lock with one naming `lock`: a new, unpredictable file, then an atomic rename over the lock. */
export function replaceLock(lockPath: string, lock: LockInfo): void {
  // never a file planted under a guessable name
  const tmp = tempPathFor(lockPath)
  try {
    writeLockFile(tmp, lock)
    renameSync(tmp, lockPath)
  } catch (err) {
    try {
      unlinkSync(tmp)
    } catch {
      // not created
    }
    throw err
  }
}

/** Takes the lock; returns the stale lock it took over, if any. */
export function acquireLock(lockPath: string, statePath: string): Partial<LockInfo> | undefined {
  const mine: LockInfo = { pid: process.pid, hostname: hostname(), startedAtMs: Date.now() }
  let takenOver: Partial<LockInfo> | undefined
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeLockFile(lockPath, mine)
      return takenOver
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'EEXIST') {
        throw new ProxyError('state_write_failed', `cannot create lock file ${lockPath} (${code ?? 'error'})`, {
          cause: err,
          hint: 'Make the state directory writable by this user.',
        })
      }
    }
    const owner = readLock(lockPath)
    if (owner && isAlive(owner, lockPath)) {
      throw new ProxyError(
        'state_locked',
        `state file ${statePath} is in use by process ${owner.pid} on ${owner.hostname}`,
        {
          hint:
            'Two processes refreshing one rotating refresh token would invalidate each other. ' +
            'Stop the other process, give this one its own stateFile, or ask the running proxy for a token.',
        },
      )
    }
    // stale lock: its process is gone; take it over (rename makes the takeover atomic)
    takenOver = owner ? { pid: owner.pid, hostname: owner.hostname, startedAtMs: owner.startedAtMs } : {}
    const stale = tempPathFor(`${lockPath}.stale`)
    try {
      renameSync(lockPath, stale)
      unlinkSync(stale)
    } catch {
      // another starter took it over first; the next attempt will tell
    }
  }
  throw new ProxyError('state_locked', `could not take the lock ${lockPath}`, {
    hint: 'Another process is starting on the same state file.',
  })
}

function readLock(lockPath: string): LockInfo | undefined {
  try {
    const text = readSmallFile(lockPath, MAX_LOCK_FILE_BYTES)
    if (text === 'too_large') return undefined
    const info = JSON.parse(text) as LockInfo
    return typeof info.pid === 'number' ? info : undefined
  } catch {
    return undefined
  }
}

function isAlive(owner: LockInfo, lockPath: string): boolean {
  if (owner.hostname !== hostname()) {
    // another host (or a re-created container): alive while it keeps the heartbeat going
    try {
      return Date.now() - statSync(lockPath).mtimeMs < 3 * LOCK_HEARTBEAT_MS
    } catch {
      return false
    }
  }
  if (owner.pid === process.pid) return false // a previous run of this container's PID 1
  try {
    process.kill(owner.pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function releaseLock(lockPath: string): void {
  try {
    const owner = readLock(lockPath)
    if (owner?.pid === process.pid) unlinkSync(lockPath)
  } catch {
    // already gone
  }
}
