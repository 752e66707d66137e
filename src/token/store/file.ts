// Token store: persists the newest refresh token per credential (atomic write, fsync, 0600) behind a process lock.
import { readdirSync, unlinkSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, basename, join } from 'node:path'
import { refuseForeignPath, writeFileAtomic } from '../../shared/atomic-file.js'
import { ProxyError } from '../../shared/errors.js'
import { registerToken } from '../../shared/redact.js'
import { Claims } from './identity.js'
import { acquireLock, keepLockFresh, readSmallFile, releaseLock, replaceLock, type LockInfo } from './lock.js'
import type { Advertisement, CredentialIdentity, CredentialState, StoreStatus, TokenStore } from './types.js'

export const STATE_FILE_VERSION = 1
export const STATE_FILE_MODE = 0o600
/** A state file holds a few tokens per credential: anything larger is not ours and is never read whole. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024

export interface StateFile {
  version: typeof STATE_FILE_VERSION
  credentials: Record<string, CredentialState>
}

/** State files held by this process: its own pid in a lock means a previous run, not this one. */
const OPEN_IN_THIS_PROCESS = new Set<string>()

/**
 * The state file. One process at a time: a `<file>.lock` holds the owner's pid;
 * a lock whose process is gone (e.g. after SIGKILL) is taken over.
 */
export class FileStore implements TokenStore {
  describe(): StoreStatus {
    return { kind: 'file', path: this.path }
  }

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
    this.#heartbeat = keepLockFresh(this.lockPath)
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
    replaceLock(this.lockPath, { pid: process.pid, hostname: hostname(), startedAtMs: Date.now(), ...info })
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
