// Token sink: writes the current access token to a file (atomic, 0600) after every refresh, for tools that read a token file.
import { open, rename, unlink } from 'node:fs/promises'
import { constants } from 'node:fs'
import type { Logger } from '../log.js'
import type { TokenManager } from './manager.js'

export const TOKEN_FILE_MODE = 0o600

/** Writes `token` to `path` via a temporary file, fsync and rename; never a partial file. */
export async function writeTokenFile(path: string, token: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, TOKEN_FILE_MODE)
  try {
    await fh.writeFile(token, 'utf8')
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}

/** Keeps `path` holding the manager's newest access token. */
export function attachTokenSink(manager: TokenManager, path: string, logger: Logger): void {
  const log = logger.child({ credential: manager.name })
  manager.on('refreshed', (e) => {
    if (!e.token) return
    writeTokenFile(path, e.token.value).then(
      () => log.debug({ event: 'token.file_written', path }, 'token file updated'),
      (err: unknown) =>
        log.error(
          { event: 'token.file_failed', path, code: (err as NodeJS.ErrnoException).code },
          'could not write the token file',
        ),
    )
  })
}
