// Token sink: writes the current access token to a file (atomic, 0600) whenever it changes, for tools that read a token file.
import type { Logger } from '../shared/log.js'
import { refuseForeignPath, writeFileAtomic } from '../shared/atomic-file.js'
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
  const write = (token: { value: string } | undefined): void => {
    if (!token) return
    writeTokenFile(path, token.value).then(
      () => log.debug({ event: 'token.file_written', path }, 'token file updated'),
      (err: unknown) =>
        log.error(
          { event: 'token.file_failed', path, code: (err as NodeJS.ErrnoException).code },
          'could not write the token file',
        ),
    )
  }
  manager.on('refreshed', (e) => write(e.token))
  // a token served from the state file at start-up (saved or imported) is written too, not only refreshed ones
  manager.on('adopted', (e) => write(e.token))
}
