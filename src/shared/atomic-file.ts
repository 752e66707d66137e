// Atomic file replacement: a uniquely named temporary file, fsync, rename, then fsync of the directory.
import { constants, lstatSync } from 'node:fs'
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ProxyError } from './errors.js'

/** Flags for every file this program creates: a new file only (never an existing one), never through a symlink. */
export const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** The temporary file beside `path`: `.<name>.<pid>.<8 hex>.tmp` (FileStore removes leftovers of its own). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

/**
 * Replaces `path` with `text` (created with `mode`): readers see the old or the new content, never a part.
 * On failure the temporary file is removed and the error (an fs error) is thrown as it is.
 */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = tempPathFor(path)
  let fh: FileHandle | undefined
  try {
    fh = await open(tmp, CREATE_NEW, mode)
    await fh.writeFile(text, 'utf8')
    await fh.sync()
    await fh.close()
    fh = undefined
    await rename(tmp, path)
  } catch (err) {
    await fh?.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
  await syncDir(dirname(path))
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch {
    // some filesystems cannot fsync a directory; the rename is still atomic
  }
}

/**
 * Refuses a path this program will write (state, lock, token file, unix socket) when it is a symlink
 * or belongs to another user: whoever planted it could redirect or read what is written there.
 * An absent path is fine.
 */
export function refuseForeignPath(path: string, what: string): void {
  let st
  try {
    st = lstatSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new ProxyError('file_unsafe', `cannot inspect the ${what} ${path} (${(err as NodeJS.ErrnoException).code})`, {
      cause: err,
    })
  }
  if (st.isSymbolicLink()) {
    throw new ProxyError('file_unsafe', `the ${what} ${path} is a symbolic link; refusing to write through it`, {
      hint: `Remove the link (rm ${path}) or point the setting at a real file in a directory only you can write.`,
    })
  }
  const uid = process.getuid?.()
  if (uid !== undefined && st.uid !== uid) {
    throw new ProxyError(
      'file_unsafe',
      `the ${what} ${path} belongs to another user (uid ${st.uid}, this process runs as ${uid})`,
      {
        hint: 'Run the proxy as the owner of the file, or move the file aside and let the proxy create its own.',
      },
    )
  }
}
