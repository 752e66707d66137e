// Token sink: writes the current access token to a file (atomic, 0600) after every refresh, for tools that read a token file.
import type { Logger } from '../log.js'
import { refuseForeignPath, writeFileAtomic } from './atomic-file.js'
import type { TokenManager } from './manager.js'

export const TOKEN_FILE_MODE = 0o600

/** Writes `token` to `path` via a temporary file, fsync and rename; never a partial file. */
export function writeTokenFile(path: string, token: string): Promise<void> {
  return writeFileAtomic(path, token, TOKEN_FILE_MODE)
}

/** Keeps `path` holding the manager's newest access token; throws file_unsafe for a symlink or another user's file. */
export function attachTokenSink(manager: TokenManager, path: string, logger: Logger): void {
  refuseForeignPath(path, 'token file')
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
