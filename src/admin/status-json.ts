// The /-/status body: times as whole epoch milliseconds plus ISO 8601 strings; the token's scope beside the configured one.
import type { ManagerStatus } from '../token/manager.js'
import type { StoreStatus } from '../token/store/types.js'

/** One credential as /-/status and `oac-token-proxy status --json` show it. */
export type CredentialStatusJson = ManagerStatus & {
  /** The scope the configuration asks for (`scope` is what the token carries). */
  configuredScope?: string
  accessTokenExpiresAt?: string
  lastRefreshAt?: string
  nextRefreshAt?: string
  refreshTokenObtainedAt?: string
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** Rounds every time to a whole millisecond and adds its ISO string (fooAtMs -> fooAt). */
export function credentialStatusJson(s: ManagerStatus, configuredScope: string | undefined): CredentialStatusJson {
  const out: CredentialStatusJson = { ...s }
  if (configuredScope !== undefined) out.configuredScope = configuredScope
  if (s.accessTokenRemainingMs !== undefined) out.accessTokenRemainingMs = Math.round(s.accessTokenRemainingMs)
  for (const key of [
    'accessTokenExpiresAtMs',
    'lastRefreshAtMs',
    'nextRefreshAtMs',
    'refreshTokenObtainedAtMs',
  ] as const) {
    const ms = s[key]
    if (ms === undefined) continue
    const rounded = Math.round(ms)
    out[key] = rounded
    out[key.slice(0, -2) as 'accessTokenExpiresAt' | 'lastRefreshAt' | 'nextRefreshAt' | 'refreshTokenObtainedAt'] =
      iso(rounded)
  }
  if (s.lastError) {
    const atMs = Math.round(s.lastError.atMs)
    out.lastError = { ...s.lastError, atMs, at: iso(atMs) } as ManagerStatus['lastError'] & { at: string }
  }
  if (s.login) {
    const expiresAtMs = Math.round(s.login.expiresAtMs)
    out.login = { ...s.login, expiresAtMs, expiresAt: iso(expiresAtMs) } as ManagerStatus['login'] & {
      expiresAt: string
    }
  }
  return out
}

/** The top-level times of /-/status. */
export function timesJson(nowMs: number, startedAtMs: number): Record<string, number | string> {
  const now = Math.round(nowMs)
  const started = Math.round(startedAtMs)
  return { now, nowAt: iso(now), startedAtMs: started, startedAt: iso(started) }
}

/** The store as /-/status shows it: each credential's stored version with its time as an ISO string too. */
export function storeStatusJson(s: StoreStatus): Record<string, unknown> {
  if (!s.credentials) return { ...s }
  const credentials: Record<string, unknown> = {}
  for (const [name, c] of Object.entries(s.credentials)) {
    credentials[name] =
      c.updatedAtMs === undefined
        ? { ...c }
        : { ...c, updatedAtMs: Math.round(c.updatedAtMs), updatedAt: iso(c.updatedAtMs) }
  }
  return { ...s, credentials }
}
