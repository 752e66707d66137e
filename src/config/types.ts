// The resolved, frozen configuration the rest of the program receives.
import type { Secret } from '../secret.js'

export interface TokenSettings {
  refreshAheadRatio: number
  refreshJitterRatio: number
  minLeadMs: number
  expirySafetyMs: number
  backoffInitialMs: number
  backoffMaxMs: number
  idpTimeoutMs: number
  clockJumpMs: number
}

export interface ProxySettings {
  replayBodyLimitBytes: number
  connectTimeoutMs: number
  upstreamTimeoutMs: number
  connections: number
  shutdownGraceMs: number
}

export interface ProxyConfig {
  sourceFile?: string
  oacUrl: string
  idcsUrl: string
  clientId: string
  clientSecret: Secret | undefined
  scope: string
  refreshToken: Secret | undefined
  stateFile: string
  listen: { host: string; port: number }
  token: TokenSettings
  proxy: ProxySettings
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' }
}
