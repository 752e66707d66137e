// The resolved, frozen configuration the rest of the program receives.
import type { Secret } from '../shared/secret.js'

export interface TokenSettings {
  refreshAheadRatio: number
  refreshJitterRatio: number
  minLeadMs: number
  expirySafetyMs: number
  backoffInitialMs: number
  backoffMaxMs: number
  /** Callers stop waiting for a token call after this; calls that rotate nothing are cut off. */
  idpTimeoutMs: number
  /** A refresh_token call is waited for this long in the background (its answer may carry the newest refresh token). */
  refreshAnswerTimeoutMs: number
  /** With no usable token, a caller's request may start a refresh attempt this often. */
  demandRetryMs: number
  clockJumpMs: number
}

export interface ProxySettings {
  replayBodyLimitBytes: number
  connectTimeoutMs: number
  upstreamTimeoutMs: number
  connections: number
  /** Longest wait for one of `connections` upstream slots before 503 upstream_busy. */
  queueTimeoutMs: number
  shutdownGraceMs: number
}

export type GrantName = 'refresh_token' | 'password' | 'jwt_bearer' | 'client_credentials'
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none'

/** How JWT assertions (user assertion grant, private_key_jwt) are signed. */
export interface AssertionKey {
  privateKey: Secret
  /** kid header: the certificate alias uploaded to the app. */
  keyId?: string
  /** x5t header: base64url SHA-1 thumbprint of the certificate. */
  x5t?: string
  audience: string
}

/** One credential: a client at an identity domain and the way its tokens are renewed. */
export interface CredentialConfig {
  name: string
  idcsUrl: string
  clientId: string
  clientSecret: Secret | undefined
  clientAuth: ClientAuthMethod
  grant: GrantName
  scope: string
  refreshToken: Secret | undefined
  username: string | undefined
  password: Secret | undefined
  assertionKey: AssertionKey | undefined
  /** Absolute path where the current access token is mirrored, if any. */
  tokenFile: string | undefined
}

/** What callers may do on a route; paths are globs (* within a segment, ** across segments). */
export interface AccessRules {
  readOnly?: boolean
  allowMethods?: string[]
  allowPaths?: string[]
  denyPaths?: string[]
}

/** Requests under `prefix` go to `upstream` with the token of `credential`. */
export interface RouteConfig {
  prefix: string
  upstream: string
  credential: string
  access?: AccessRules
}

export interface SecuritySettings {
  /** Local keys callers must present; empty = none required. */
  localKeys: readonly Secret[]
  /** Lower-case header name; 'authorization' means `Authorization: Bearer <key>`. */
  localKeyHeader: string
  /** Extra accepted Host values, lower case (with or without :port). */
  allowedHosts: readonly string[]
  /** Accepted browser origins, lower case, no trailing slash. */
  allowedOrigins: readonly string[]
  allowNonLoopback: boolean
}

export interface LoginSettings {
  method: 'device' | 'browser'
  headless: boolean
  redirectPort: number
  redirectPath: string
  openBrowser: boolean
  /** prompt of the browser login's authorization request ('omit': none sent). */
  prompt: 'consent' | 'omit'
  timeoutMs: number
}

/** The shared token store of a fleet (store.*): Redis by URL or through Sentinel. */
export interface StoreSettings {
  url?: string
  sentinel?: { masterName: string; nodes: readonly string[]; password?: Secret }
  username?: string
  password?: Secret
  keyPrefix: string
  encryption: 'required' | 'none'
  encryptionKey: Secret | undefined
  previousEncryptionKey: Secret | undefined
  lockWaitMs: number
  commandTimeoutMs: number
  connectTimeoutMs: number
  replicaId: string | undefined
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
  /** Set when replicas share the state in Redis (store.url or store.sentinel); the state file is then not used. */
  store: StoreSettings | undefined
  /** The default credential first, then the named ones. */
  credentials: readonly CredentialConfig[]
  /** Named prefixes first (longest first), then `/` to oacUrl with the default credential. */
  routes: readonly RouteConfig[]
  login: LoginSettings
  listen: { host: string; port: number; tcp: boolean; socket: string | undefined; socketMode: number }
  security: SecuritySettings
  /** PEM of extra CA certificates for upstream and identity-domain TLS. */
  tls: { ca: string | undefined }
  /** Things worth a warning at start (loose secret-file permissions, ...); never secret values. */
  warnings: readonly string[]
  token: TokenSettings
  proxy: ProxySettings
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
    requests: boolean
    format: 'auto' | 'json' | 'pretty'
  }
  admin: { port: number | undefined; host: string; readyMinRemainingMs: number }
}
