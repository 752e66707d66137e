// Builds the frozen ProxyConfig from the merged settings and the resolved credentials, routes and security.
import { resolve } from 'node:path'
import { Secret } from '../shared/secret.js'
import { DEFAULT_CREDENTIAL } from './options.js'
import type { Reader } from './tree.js'
import type {
  CredentialConfig,
  LoginSettings,
  ProxyConfig,
  ProxySettings,
  RouteConfig,
  SecuritySettings,
  StoreSettings,
  TokenSettings,
} from './types.js'

/** What the resolve step produced from the merged settings. */
export interface ResolvedParts {
  configPath: string | undefined
  baseDir: string
  credentials: CredentialConfig[]
  routes: RouteConfig[]
  security: SecuritySettings
  listen: ProxyConfig['listen']
  tlsCa: string | undefined
  store: StoreSettings | undefined
  warnings: string[]
}

/** Durations are given in seconds and kept in milliseconds. */
function millis(value: Reader): (path: string) => number {
  return (path) => Math.round(value<number>(path) * 1000)
}

export function buildConfig(value: Reader, parts: ResolvedParts): ProxyConfig {
  const { configPath, baseDir, credentials } = parts
  const main = credentials.find((c) => c.name === DEFAULT_CREDENTIAL) as CredentialConfig
  const seconds = millis(value)
  const config: ProxyConfig = {
    ...(configPath === undefined ? {} : { sourceFile: configPath }),
    oacUrl: stripSlash(value<string>('oacUrl')),
    idcsUrl: stripSlash(value<string>('idcsUrl')),
    clientId: value<string>('clientId'),
    clientSecret: main.clientSecret,
    scope: value<string>('scope'),
    refreshToken: main.refreshToken,
    stateFile: resolve(baseDir, value<string>('stateFile')),
    store: parts.store,
    credentials,
    routes: parts.routes,
    login: loginSettings(value),
    listen: parts.listen,
    security: parts.security,
    tls: { ca: parts.tlsCa },
    warnings: parts.warnings,
    token: tokenSettings(value),
    proxy: proxySettings(value),
    log: {
      level: value<ProxyConfig['log']['level']>('log.level'),
      requests: value<boolean>('log.requests'),
      format: value<ProxyConfig['log']['format']>('log.format'),
    },
    admin: {
      port: value<number | undefined>('admin.port'),
      host: value<string>('admin.host'),
      readyMinRemainingMs: seconds('admin.readyMinRemainingSeconds'),
    },
  }
  return deepFreeze(config)
}

function loginSettings(value: Reader): LoginSettings {
  return {
    method: value<LoginSettings['method']>('login.method'),
    headless: value<boolean>('login.headless'),
    redirectPort: value<number>('login.redirectPort'),
    redirectPath: value<string>('login.redirectPath'),
    openBrowser: value<boolean>('login.openBrowser'),
    prompt: value<LoginSettings['prompt']>('login.prompt'),
    timeoutMs: millis(value)('login.timeoutSeconds'),
  }
}

function tokenSettings(value: Reader): TokenSettings {
  const seconds = millis(value)
  return {
    refreshAheadRatio: value<number>('token.refreshAheadRatio'),
    refreshJitterRatio: value<number>('token.refreshJitterRatio'),
    minLeadMs: seconds('token.minLeadSeconds'),
    expirySafetyMs: seconds('token.expirySafetySeconds'),
    backoffInitialMs: seconds('token.backoffInitialSeconds'),
    backoffMaxMs: seconds('token.backoffMaxSeconds'),
    idpTimeoutMs: seconds('token.idpTimeoutSeconds'),
    refreshAnswerTimeoutMs: seconds('token.refreshAnswerTimeoutSeconds'),
    demandRetryMs: seconds('token.demandRetrySeconds'),
    clockJumpMs: seconds('token.clockJumpSeconds'),
  }
}

function proxySettings(value: Reader): ProxySettings {
  const seconds = millis(value)
  return {
    replayBodyLimitBytes: value<number>('proxy.replayBodyLimitBytes'),
    connectTimeoutMs: seconds('proxy.connectTimeoutSeconds'),
    upstreamTimeoutMs: seconds('proxy.upstreamTimeoutSeconds'),
    connections: value<number>('proxy.connections'),
    queueTimeoutMs: seconds('proxy.queueTimeoutSeconds'),
    shutdownGraceMs: seconds('proxy.shutdownGraceSeconds'),
  }
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Secret)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
