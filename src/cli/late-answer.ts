// A refresh that outlived the identity domain's timeout: wait (bounded) for its answer, which may carry a rotated refresh token.
import type { TokenSettings } from '../config/types.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { TokenManager } from '../token/manager.js'
import type { AccessToken } from '../token/schedule.js'
import { idpName, withProgress } from './progress.js'

/**
 * A refresh that outlived token.idpTimeoutSeconds may still have rotated the refresh token: leaving now
 * would lose the new one. So the command says so, waits for the answer (bounded by
 * token.refreshAnswerTimeoutSeconds) and uses it when it comes; otherwise it reports the timeout.
 */
export async function lateAnswer(
  manager: TokenManager,
  err: unknown,
  settings: TokenSettings,
  idcsUrl: string,
  logger: Logger,
): Promise<AccessToken> {
  if (!(err instanceof ProxyError) || err.code !== 'token_unavailable' || !manager.refreshInFlight) throw err
  const idp = idpName(idcsUrl)
  const timeoutS = Math.round(settings.idpTimeoutMs / 1000)
  logger.warn(
    { event: 'token.waiting_late_answer' },
    `${idp} did not answer within ${timeoutS} s; waiting up to ${Math.round(settings.refreshAnswerTimeoutMs / 1000)} s ` +
      '(token.refreshAnswerTimeoutSeconds) for its answer, which may carry a rotated refresh token; Ctrl-C gives up',
  )
  await withProgress(idp, manager.settled(), { limitMs: settings.refreshAnswerTimeoutMs })
  const token = manager.peek()
  if (token) return token
  // the late answer was a refusal (login_required, credential_rejected): that is the error to report
  if (manager.health === 'login_required' || manager.health === 'credential_rejected') return manager.get()
  // an answer that came late but was no token (a 5xx, a 429...): say what it was, not "timed out"
  const last = manager.status().lastError
  if (last && last.code !== 'idp_unreachable') {
    throw new ProxyError(
      'idp_unreachable',
      `${idp} answered only after ${timeoutS} s, and not with a token: ${last.message}`,
      { cause: err },
    )
  }
  throw new ProxyError('idp_unreachable', `${idp} did not answer within ${timeoutS} s (timed out)`, {
    cause: err,
    hint:
      'Check that idcsUrl is right and reachable from here (HTTPS_PROXY, tls.caFile); raise token.idpTimeoutSeconds ' +
      'if the identity domain is only slow. Its late answer was waited for, so no rotated refresh token was dropped.',
  })
}
