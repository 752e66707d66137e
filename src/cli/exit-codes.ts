// Exit codes of the command line, by error code; docs/errors.md and the README list them.
import type { ErrorCode } from '../shared/errors.js'

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  state: 3,
  login: 4,
  /** status: a credential was rejected by the identity domain (fix the configuration). */
  credentialRejected: 5,
  /** status: a credential holds no valid token yet (starting, or the identity domain is failing). */
  notReady: 6,
  /** status: no proxy runs on the state file. */
  notRunning: 7,
  /** Stopped by Ctrl-C (128 + SIGINT), e.g. while login waits. */
  interrupted: 130,
  /** Stopped by SIGTERM (128 + SIGTERM) while login waits. */
  terminated: 143,
} as const

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  usage: EXIT.usage,
  config_invalid: EXIT.usage,
  config_unreadable: EXIT.usage,
  secret_unreadable: EXIT.usage,
  state_locked: EXIT.state,
  state_corrupt: EXIT.state,
  state_write_failed: EXIT.state,
  state_mismatch: EXIT.state,
  state_too_large: EXIT.state,
  file_unsafe: EXIT.state,
  migrate_target_newer: EXIT.state,
  login_required: EXIT.login,
  credential_rejected: EXIT.login,
  login_expired: EXIT.login,
  login_denied: EXIT.login,
  login_failed: EXIT.login,
  no_refresh_token: EXIT.login,
}

export function exitCodeFor(code: ErrorCode): number {
  return BY_CODE[code] ?? EXIT.failure
}
