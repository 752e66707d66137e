// Atomic file replacement: a uniquely named temporary file, fsync, rename, then fsync of the directory.
import { constants } from 'node:fs'
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'

/** The temporary file beside `path`: `.<name>.<pid>.<8 hex>.tmp` (FileStore removes leftovers of its own). */
function tempPathFor(path: string): string {
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
    fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode)
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
