// Token store: persists the newest refresh token per credential (atomic write, fsync, 0600) behind a process lock.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lutimesSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { dirname, basename, join } from 'node:path'
import { hostname } from 'node:os'
import { CREATE_NEW, refuseForeignPath, tempPathFor, writeFileAtomic } from '../../shared/atomic-file.js'
import { ProxyError } from '../../shared/errors.js'
import { registerToken } from '../../shared/redact.js'

export const STATE_FILE_VERSION = 1
export const STATE_FILE_MODE = 0o600
/** The lock owner touches the lock this often; a lock from another host untouched for 3x this is stale. */
export const LOCK_HEARTBEAT_MS = 10_000
/** A state file holds a few tokens per credential: anything larger is not ours and is never read whole. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024
/** A lock file holds one small JSON object. */
const MAX_LOCK_FILE_BYTES = 64 * 1024

/** Which identity domain and client a state entry was obtained from; a refresh token is only valid there. */
export interface CredentialIdentity {
  credential: string
  /** The identity domain URL, normalised (origin and path, no trailing slash). */
  idcsUrl: string
  clientId: string
}

/** What is kept for one credential. */
export interface CredentialState {
  /** Recorded on every write; entries written before it existed have none and are trusted. */
  identity?: CredentialIdentity
  refreshToken?: string
  /** When the refresh token above was received (ms since epoch). */
  refreshTokenObtainedAtMs?: number
  /** Who the token belongs to (JWT sub), for status output. */
  subject?: string
  /** An access token imported from a console download (tokens.tok); used until it expires. */
  importedAccessToken?: string
  importedAccessTokenExpiresAtMs?: number
  /** The last access token `oac-token-proxy token` obtained, reused by it until near expiry (file mode 0600). */
  accessToken?: string
  accessTokenObtainedAtMs?: number
  accessTokenExpiresAtMs?: number
  updatedAtMs?: number
}

export interface StateFile {
  version: typeof STATE_FILE_VERSION
  credentials: Record<string, CredentialState>
}

export interface TokenStore {
  load(credential: string): CredentialState | undefined
  /** Resolves once the state is durable on disk. */
  save(credential: string, state: CredentialState): Promise<void>
  close(): Promise<void>
  /** Tells local commands (token, status) where the running proxy answers; file stores record it in the lock. */
  advertise?(info: Advertisement): void
  /**
   * Binds a credential's entry to an identity domain and client: throws state_mismatch when the entry
   * was written for another one; afterwards every save of that credential records the identity.
   * Optional: a store without it keeps no identities (a test double, say).
   */
  claim?(identity: CredentialIdentity): void
}

/** The identity of a configured credential, with the URL normalised so that a trailing slash is no mismatch. */
export function identityOf(credential: string, idcsUrl: string, clientId: string): CredentialIdentity {
  let url = idcsUrl
  try {
    const u = new URL(idcsUrl)
    url = `${u.origin}${u.pathname}`
  } catch {
    // the config loader validated it; keep it as given
  }
  return { credential, idcsUrl: url.replace(/\/+$/, ''), clientId }
}

/** Throws state_mismatch when `saved` belongs to another identity domain or client than `wanted`. */
export function checkIdentity(saved: CredentialState | undefined, wanted: CredentialIdentity, path: string): void {
  const had = saved?.identity
  if (!had || (had.idcsUrl === wanted.idcsUrl && had.clientId === wanted.clientId)) return
  throw new ProxyError(
    'state_mismatch',
    `state file ${path} holds credential '${wanted.credential}' for identity domain ${had.idcsUrl} and client ${had.clientId}, ` +
      `but the configuration names identity domain ${wanted.idcsUrl} and client ${wanted.clientId}`,
    {
      hint:
        'Its refresh token is only valid where it was issued, and it is left untouched. Give this configuration its own ' +
        'stateFile (or credential name), or point it back at the identity domain and client the state file was written for.',
    },
  )
}

/** Claimed identities, per credential, and their stamping onto saved entries. */
class Claims {
  readonly #byCredential = new Map<string, CredentialIdentity>()
  claim(identity: CredentialIdentity, saved: CredentialState | undefined, path: string): void {
    checkIdentity(saved, identity, path)
    this.#byCredential.set(identity.credential, { ...identity })
  }
  stamp(credential: string, state: CredentialState, previous: CredentialState | undefined): CredentialState {
    const identity = this.#byCredential.get(credential) ?? state.identity ?? previous?.identity
    return identity ? { ...state, identity: { ...identity } } : { ...state }
  }
}

/** Written into the lock file (mode 0600) once the proxy listens. */
export interface Advertisement {
  adminUrl: string
  adminKey: string
}

/** For tests and one-shot commands: keeps state in memory only. */
export class MemoryStore implements TokenStore {
  readonly data = new Map<string, CredentialState>()
  readonly #claims = new Claims()
  saves = 0
  load(credential: string): CredentialState | undefined {
    const s = this.data.get(credential)
    return s ? { ...s } : undefined
  }
  async save(credential: string, state: CredentialState): Promise<void> {
    this.saves++
    this.data.set(credential, this.#claims.stamp(credential, state, this.data.get(credential)))
  }
  claim(identity: CredentialIdentity): void {
    this.#claims.claim(identity, this.data.get(identity.credential), 'in memory')
  }
  async close(): Promise<void> {}
}

/** State files held by this process: its own pid in a lock means a previous run, not this one. */
const OPEN_IN_THIS_PROCESS = new Set<string>()

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

/**
 * The state file. One process at a time: a `<file>.lock` holds the owner's pid;
 * a lock whose process is gone (e.g. after SIGKILL) is taken over.
 */
export class FileStore implements TokenStore {
  readonly path: string
  readonly lockPath: string
  #state: StateFile
  readonly #claims = new Claims()
  #queue: Promise<void> = Promise.resolve()
  #closed = false
  #heartbeat: NodeJS.Timeout
  /** ms spent in the last write (open..rename), for the crash-window figure. */
  lastWriteMs = 0
  /** Temporary files of writes cut short by a crash, removed when the lock was taken. */
  removedTempFiles = 0
  /** The stale lock this store took over (its process was gone), if any; fields are absent when it was unreadable. */
  takenOverLock: Partial<LockInfo> | undefined

  private constructor(path: string, state: StateFile) {
    this.path = path
    this.lockPath = `${path}.lock`
    this.#state = state
    this.#heartbeat = setInterval(() => {
      try {
        const now = new Date()
        // the link itself if someone swapped one in: never touch what it points to
        lutimesSync(this.lockPath, now, now)
      } catch {
        // lock removed from under us; nothing useful to do here
      }
    }, LOCK_HEARTBEAT_MS)
    this.#heartbeat.unref()
  }

  /** Takes the lock, then reads the file (absent file = empty state). */
  static open(path: string): FileStore {
    if (OPEN_IN_THIS_PROCESS.has(path)) {
      throw new ProxyError('state_locked', `state file ${path} is already open in this process`, {
        hint: 'Each credential needs its own state file.',
      })
    }
    refuseForeignPath(path, 'state file')
    refuseForeignPath(`${path}.lock`, 'state lock file')
    const takenOver = acquireLock(`${path}.lock`, path)
    OPEN_IN_THIS_PROCESS.add(path)
    try {
      const store = new FileStore(path, readState(path))
      store.takenOverLock = takenOver
      store.removedTempFiles = removeLeftoverTempFiles(path)
      return store
    } catch (err) {
      OPEN_IN_THIS_PROCESS.delete(path)
      releaseLock(`${path}.lock`)
      throw err
    }
  }

  load(credential: string): CredentialState | undefined {
    const s = this.#state.credentials[credential]
    return s ? { ...s } : undefined
  }

  save(credential: string, state: CredentialState): Promise<void> {
    if (this.#closed) return Promise.reject(new ProxyError('state_write_failed', 'state store is closed'))
    this.#state = {
      version: STATE_FILE_VERSION,
      credentials: {
        ...this.#state.credentials,
        [credential]: this.#claims.stamp(credential, state, this.#state.credentials[credential]),
      },
    }
    const snapshot = JSON.stringify(this.#state, null, 2) + '\n'
    // writes are serialised; each writes the whole, newest state
    const run = this.#queue.then(() => this.#write(snapshot))
    this.#queue = run.catch(() => {})
    return run
  }

  async #write(text: string): Promise<void> {
    const started = performance.now()
    try {
      await writeFileAtomic(this.path, text, STATE_FILE_MODE)
      this.lastWriteMs = performance.now() - started
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      throw new ProxyError('state_write_failed', `cannot write state file ${this.path} (${code})`, {
        cause: err,
        hint: 'Make the directory writable (and not full); the newest refresh token is kept in memory meanwhile.',
      })
    }
  }

  claim(identity: CredentialIdentity): void {
    this.#claims.claim(identity, this.#state.credentials[identity.credential], this.path)
  }

  advertise(info: Advertisement): void {
    const lock: LockInfo = { pid: process.pid, hostname: hostname(), startedAtMs: Date.now(), ...info }
    // a new, unpredictable file (never one planted under a guessable name), then an atomic rename over the lock
    const tmp = tempPathFor(this.lockPath)
    try {
      writeLockFile(tmp, lock)
      renameSync(tmp, this.lockPath)
    } catch (err) {
      try {
        unlinkSync(tmp)
      } catch {
        // not created
      }
      throw err
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeat)
    await this.#queue
    releaseLock(this.lockPath)
    OPEN_IN_THIS_PROCESS.delete(this.path)
  }
}

function removeLeftoverTempFiles(path: string): number {
  const dir = dirname(path)
  const name = basename(path)
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  // `.<name>[.lock].<pid>.<8 hex>.tmp`, and `<name>.lock.<pid>.tmp` of older versions
  const pattern = new RegExp(`^(?:\\.${escaped}(?:\\.lock)?\\.\\d+\\.[0-9a-f]{8}|${escaped}\\.lock\\.\\d+)\\.tmp$`)
  let removed = 0
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch {
    return 0
  }
  for (const entry of entries) {
    if (!pattern.test(entry)) continue
    try {
      unlinkSync(join(dir, entry))
      removed++
    } catch {
      // already gone or not ours to remove: harmless
    }
  }
  return removed
}

function readState(path: string): StateFile {
  let text: string
  try {
    const read = readSmallFile(path, MAX_STATE_FILE_BYTES)
    if (read === 'too_large') {
      throw new ProxyError(
        'state_too_large',
        `state file ${path} is larger than ${MAX_STATE_FILE_BYTES} bytes; a state file holds a few tokens`,
        { hint: `It is not a file this program wrote: move it aside (mv ${path} ${path}.bad) and log in again.` },
      )
    }
    text = read
  } catch (err) {
    if (err instanceof ProxyError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { version: STATE_FILE_VERSION, credentials: {} }
    throw new ProxyError('state_corrupt', `cannot read state file ${path} (${code ?? 'error'})`, { cause: err })
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new ProxyError('state_corrupt', `state file ${path} is not valid JSON`, {
      hint: 'Move it aside and log in again (or give refreshToken); it is never written partially by this program.',
    })
  }
  const d = data as Partial<StateFile>
  if (!d || d.version !== STATE_FILE_VERSION || typeof d.credentials !== 'object' || d.credentials === null) {
    throw new ProxyError(
      'state_corrupt',
      `state file ${path} does not have the expected shape (version ${STATE_FILE_VERSION})`,
      {
        hint: 'Move it aside and log in again (or give refreshToken).',
      },
    )
  }
  // tokens held on disk are scrubbed from outside texts like those obtained while running
  for (const c of Object.values(d.credentials)) {
    registerToken(c?.refreshToken)
    registerToken(c?.importedAccessToken)
    registerToken(c?.accessToken)
  }
  return { version: STATE_FILE_VERSION, credentials: d.credentials }
}

/**
 * Reads a file through no symlink (ELOOP if it is one), checking its size on the open descriptor
 * before reading: 'too_large' instead of reading a huge file whole.
 */
function readSmallFile(path: string, maxBytes: number): string | 'too_large' {
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
  const fd = openSync(path, CREATE_NEW, STATE_FILE_MODE)
  try {
    writeSync(fd, JSON.stringify(info) + '\n')
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Takes the lock; returns the stale lock it took over, if any. */
function acquireLock(lockPath: string, statePath: string): Partial<LockInfo> | undefined {
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

function releaseLock(lockPath: string): void {
  try {
    const owner = readLock(lockPath)
    if (owner?.pid === process.pid) unlinkSync(lockPath)
  } catch {
    // already gone
  }
}
