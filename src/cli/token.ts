// `oac-token-proxy token`: prints a valid access token: from the running proxy, else the one saved last time, else by refreshing.
import type { ProxyConfig, TokenSettings } from '../config/types.js'
import { claimCredential, createTokenManagers } from '../app/managers.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import { credentialByName } from './login.js'
import { idpName, withProgress } from './progress.js'
import { FileStore } from '../token/store/file.js'
import type { CredentialState } from '../token/store/types.js'
import { lateAnswer } from './late-answer.js'
import { Interrupted, listenForInterruption } from './signals.js'
import { askProxy, checkStateIdentity, readStateFile, runningProxy } from './ask-proxy.js'

/** A saved access token is reused while it has at least this long left (or half its lifetime, if shorter). */
export const TOKEN_REUSE_MIN_REMAINING_MS = 30_000

export interface TokenResult {
  accessToken: string
  expiresAtMs: number
  /**
   * 'proxy': the running proxy answered; 'saved': the token saved by an earlier call; 'store': the shared store's
   * token (not yet due); 'refresh': this process refreshed.
   */
  source: 'proxy' | 'saved' | 'store' | 'refresh'
}

/** The saved access token, if it has enough time left to be worth handing out (as gcloud and oauth2l reuse theirs). */
export function reusableToken(
  saved: CredentialState | undefined,
  settings: Pick<TokenSettings, 'expirySafetyMs'>,
  nowMs: number,
): { accessToken: string; expiresAtMs: number } | undefined {
  if (!saved?.accessToken || saved.accessTokenExpiresAtMs === undefined) return undefined
  const lifetimeMs = saved.accessTokenExpiresAtMs - (saved.accessTokenObtainedAtMs ?? nowMs)
  const minRemainingMs = Math.max(settings.expirySafetyMs, Math.min(TOKEN_REUSE_MIN_REMAINING_MS, lifetimeMs / 2))
  if (saved.accessTokenExpiresAtMs - nowMs < minRemainingMs) return undefined
  return { accessToken: saved.accessToken, expiresAtMs: saved.accessTokenExpiresAtMs }
}

export interface GetTokenOptions {
  /** Hand out the access token saved by an earlier call while it has time left (the `token` command); default false. */
  reuseSaved?: boolean
}

export async function getToken(
  config: ProxyConfig,
  credentialName: string,
  logger: Logger,
  options: GetTokenOptions = {},
): Promise<TokenResult> {
  const credential = credentialByName(config, credentialName)
  // a fleet's shared store: the stored token, or a refresh under the fleet's lock (Redis loads only then)
  if (config.store) return (await import('./shared-store.js')).fleetToken(config, credential, logger)
  const running = runningProxy(config.stateFile)
  if (running) {
    // the running proxy may serve another configuration on this state file
    checkStateIdentity(readStateFile(config.stateFile), credential, config.stateFile)
    const body = await askProxy<{ accessToken: string; expiresAtMs: number }>(
      running,
      `/-/token?credential=${encodeURIComponent(credential.name)}`,
    )
    return { accessToken: body.accessToken, expiresAtMs: body.expiresAtMs, source: 'proxy' }
  }
  // no proxy: hold the state lock, reuse the saved token or refresh here, so a rotated refresh token is saved
  const store = FileStore.open(config.stateFile)
  try {
    claimCredential(store, credential)
    const saved = options.reuseSaved ? reusableToken(store.load(credential.name), config.token, Date.now()) : undefined
    if (saved) return { ...saved, source: 'saved' }
    const only: ProxyConfig = {
      ...config,
      routes: [{ prefix: '/', upstream: config.oacUrl, credential: credential.name }],
    }
    const manager = createTokenManagers(only, { logger, store }).get(credential.name)
    if (!manager) throw new ProxyError('usage', `credential '${credential.name}' is not usable`)
    // the saved token was judged above (reuseSaved): past this point the grant itself is asked
    manager.start({ useSaved: false })
    let result: TokenResult
    let obtainedAtMs: number
    const interruption = listenForInterruption((signal) => {
      process.stderr.write(
        `\noac-token-proxy: cancelled (${signal === 'SIGINT' ? 'Ctrl-C' : signal}) while waiting for ` +
          `${idpName(credential.idcsUrl)} to answer a refresh; ${config.stateFile} was not changed. Its answer may have carried a rotated ` +
          'refresh token: if the saved one is refused from now on, sign in again with oac-token-proxy login.\n',
      )
    })
    let interrupted = false
    try {
      const refreshed = withProgress(idpName(credential.idcsUrl), manager.get(), {
        limitMs: config.token.idpTimeoutMs,
      }).catch((err: unknown) => lateAnswer(manager, err, config.token, credential.idcsUrl, logger))
      refreshed.catch(() => {}) // read through the race; after a signal, nobody waits for it
      const token = await Promise.race([refreshed, interruption.signalled]).catch((err: unknown) => {
        interrupted = err instanceof Interrupted
        throw err
      })
      obtainedAtMs = token.obtainedAtMs
      result = { accessToken: token.value, expiresAtMs: token.expiresAtMs, source: 'refresh' }
    } finally {
      interruption.stop()
      // stopped by a signal: no waiting for the answer (the state lock is released below on the way out)
      if (!interrupted) await manager.stop()
    }
    // saved after the manager's own writes (the rotated refresh token), in the 0600 state file
    await store.save(credential.name, {
      ...store.load(credential.name),
      accessToken: result.accessToken,
      accessTokenObtainedAtMs: obtainedAtMs,
      accessTokenExpiresAtMs: result.expiresAtMs,
      updatedAtMs: Date.now(),
    })
    return result
  } finally {
    await store.close()
  }
}
