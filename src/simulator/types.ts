// Public types of the IDCS + OAC simulator (options, handle, calls, stats, faults).

import type { Clock } from '../shared/clock.js'

export interface SimulatorOptions {
  /** Interface both servers bind to; default '127.0.0.1'. */
  host?: string
  /** 0 (default) picks a free port. */
  idcsPort?: number
  oacPort?: number
  /** Source of every token time and work-request progress; default systemClock. */
  clock?: Clock
  accessTokenLifetimeS?: number
  refreshTokenLifetimeS?: number
  /** The confidential client; default 'oac-sim-client'. */
  clientId?: string
  /** Default: random per instance. */
  clientSecret?: string
  /** A registered public client (authenticates with client_id only); default 'oac-sim-public'. */
  publicClientId?: string
  user?: string
  /**
   * Known users. Default: the default user (`user`) with password 'Welcome-1234!' and
   * 'federated@example.com' (federated: no password grant).
   */
  users?: Record<string, SimUser>
  /** Device codes live this long; default 600. */
  deviceCodeLifetimeS?: number
  /** Returned as `interval` by the device endpoint when set (IDCS sends none); the polling minimum is this or 5 s. */
  deviceIntervalS?: number
  /** Redirect URIs registered for both clients; default ['http://127.0.0.1/callback']. */
  redirectUris?: string[]
  /** Default true: a registered http://127.0.0.1/path also matches any port (RFC 8252); false = exact match. */
  loopbackAnyPort?: boolean
}

export interface SimUser {
  password?: string
  /** Federated users sign in at their identity provider: no password grant. */
  federated?: boolean
}

export type DeviceRequestStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used'

export interface DeviceRequestView {
  userCode: string
  clientId: string
  scope: string
  status: DeviceRequestStatus
}

/** What the authorization endpoint does once a valid request arrives (no browser involved). */
export type AuthorizeBehaviour = { action: 'approve'; user?: string } | { action: 'deny' } | { action: 'tamper_state' }

export interface RegisterClientKeyOptions {
  /** Default: the confidential client. */
  clientId?: string
  /** The certificate alias; required with publicKeyPem, optional with certificatePem. */
  kid?: string
  /** An RSA public key, SPKI PEM. */
  publicKeyPem?: string
  /** An X.509 certificate, PEM; its SHA-1 thumbprint is the `x5t` assertions may name. */
  certificatePem?: string
}

export interface Simulator {
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  readonly idcsUrl: string
  readonly oacUrl: string
  readonly clientId: string
  readonly clientSecret: string
  readonly publicClientId: string
  readonly audience: string
  readonly scope: string
  readonly user: string
  /** Every request to either server, in arrival order. */
  readonly calls: SimCall[]
  readonly faults: { idcs: FaultQueue; oac: FaultQueue }
  /** Every token ever issued (for leak scans). */
  readonly issued: { accessTokens: string[]; refreshTokens: string[] }
  /** Bootstrap as if a user had logged in: returns a fresh valid refresh token for that client. */
  issueRefreshToken(opts?: { clientId?: string; user?: string; scope?: string }): string
  /** Mint an access token directly (as IDCS would for that scope), e.g. for a wrong audience. */
  issueAccessToken(opts?: IssueAccessTokenOptions): Promise<string>
  stats(): SimStats
  setAccessTokenLifetime(seconds: number): void
  /** 'urn:opc:idm:__myscopes__' */
  readonly idcsAdminScope: string
  /** Every device authorization request so far, oldest first. */
  deviceRequests(): DeviceRequestView[]
  /** Approve a pending device request as `user` (default: the default user); throws if unknown or not pending. */
  approveDevice(userCode: string, user?: string): void
  denyDevice(userCode: string): void
  /** Default: approve as the default user. */
  setAuthorizeBehaviour(b: AuthorizeBehaviour): void
  /** Register a key or certificate for user assertions and private_key_jwt client authentication. */
  registerClientKey(opts: RegisterClientKeyOptions): void
  /** Grant types a client may use; null = all (default). */
  setClientGrants(clientId: string, grants: string[] | null): void
  /** Closes both servers and destroys open sockets (hanging requests included). */
  close(): Promise<void>
}

export interface IssueAccessTokenOptions {
  clientId?: string
  user?: string
  scope?: string
  lifetimeS?: number
}

export interface SimStats {
  /** POST /oauth2/v1/token, any outcome. */
  tokenCalls: number
  /** Successful refresh_token grants. */
  refreshGrants: number
  /** refresh_token grant presented an already-rotated (used) refresh token. */
  staleRefreshTokenUses: number
  oacRequests: number
  /** OAC requests carrying a well-signed but expired token. */
  oacExpiredTokenRequests: number
  /** OAC 401 answers. */
  oacUnauthorized: number
}

export interface SimCall {
  server: 'idcs' | 'oac'
  method: string
  path: string
  /** 0 until answered; stays 0 for reset and hang. */
  status: number
  /** clock.now() at arrival. */
  atMs: number
  grantType?: string
  clientAuth?: 'basic' | 'post' | 'none' | 'private_key_jwt' | 'invalid'
  refreshTokenState?: 'current' | 'used' | 'expired' | 'unknown'
  /** For OAC calls. */
  tokenState?: 'valid' | 'expired' | 'invalid' | 'missing'
  tokenJti?: string
  fault?: string
  /** Request headers, with `authorization` replaced by '[present]' if present. */
  headers?: Record<string, string | string[] | undefined>
}

export type Fault =
  /** Delay (real time), then answer normally. */
  | { kind: 'latency'; ms: number }
  /** e.g. 500/502/503 with a small body. */
  | { kind: 'status'; status: number; body?: string }
  /** 429 with a Retry-After header and a JSON body. */
  | { kind: 'rate_limit'; retryAfterS: number }
  /** Destroy the socket without answering. */
  | { kind: 'reset' }
  /** 200 with a truncated, invalid JSON body. */
  | { kind: 'malformed' }
  /** IDCS only: the next token call answers 400 invalid_grant (the refresh token is not consumed). */
  | { kind: 'invalid_grant' }
  /** Accept, never answer (until close()). */
  | { kind: 'hang' }

export interface FaultQueue {
  /** Apply to the next `times` requests (default 1), FIFO. */
  next(fault: Fault, times?: number): void
  /** Apply to every request until cleared (an outage); null clears. */
  always(fault: Fault | null): void
  clear(): void
}
