// `oac-token-proxy token`: prints a valid access token, from the running proxy if there is one, else by refreshing.
import type { ProxyConfig } from '../config/types.js'
import { createTokenManagers } from '../credentials.js'
import { ProxyError } from '../errors.js'
import type { Logger } from '../log.js'
import { credentialByName } from '../login.js'
import { idpName, withProgress } from '../progress.js'
import { FileStore } from '../token/store.js'
import { askProxy, runningProxy } from './ask-proxy.js'

export interface TokenResult {
  accessToken: string
  expiresAtMs: number
  /** 'proxy' when the running proxy answered, 'refresh' when this process refreshed. */
  source: 'proxy' | 'refresh'
}

export async function getToken(config: ProxyConfig, credentialName: string, logger: Logger): Promise<TokenResult> {
  const credential = credentialByName(config, credentialName)
  const running = runningProxy(config.stateFile)
  if (running) {
    const body = await askProxy<{ accessToken: string; expiresAtMs: number }>(
      running,
      `/-/token?credential=${encodeURIComponent(credential.name)}`,
    )
    return { accessToken: body.accessToken, expiresAtMs: body.expiresAtMs, source: 'proxy' }
  }
  // no proxy: refresh here, holding the state lock, so the rotated refresh token is saved
  const store = FileStore.open(config.stateFile)
  try {
    const only: ProxyConfig = {
      ...config,
      routes: [{ prefix: '/', upstream: config.oacUrl, credential: credential.name }],
    }
    const manager = createTokenManagers(only, { logger, store }).get(credential.name)
    if (!manager) throw new ProxyError('usage', `credential '${credential.name}' is not usable`)
    manager.start()
    try {
      const token = await withProgress(idpName(credential.idcsUrl), manager.get(), {
        limitMs: config.token.idpTimeoutMs,
      })
      return { accessToken: token.value, expiresAtMs: token.expiresAtMs, source: 'refresh' }
    } finally {
      await manager.stop()
    }
  } finally {
    await store.close()
  }
}
