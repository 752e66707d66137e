// `oac-token-proxy status`: who is signed in, scopes, when the access and refresh tokens expire.
import type { ProxyConfig } from '../config/types.js'
import type { CredentialStatusJson } from '../admin/status-json.js'
import { claimsOf } from '../token/lifetime.js'
import { EXIT } from './exit-codes.js'
import { credentialByName } from './login.js'
import { askProxy, checkStateIdentity, readStateFile, runningProxy } from './ask-proxy.js'
import type { StoreReport, StoredCredential } from './store-status.js'

/** IDCS's default refresh-token lifetime; the real one is set per application. */
export const IDCS_DEFAULT_REFRESH_TOKEN_LIFETIME_MS = 7 * 24 * 3600 * 1000

export interface StatusReport {
  running: { pid: number; adminUrl: string } | undefined
  /** The shared store, when the configuration has one: the credentials are read from it. */
  store?: StoreReport
  credentials: Array<
    Partial<CredentialStatusJson> & { credential: string; grant: string } & Partial<Omit<StoredCredential, 'health'>>
  >
}

/** Only `credential` when given (a usage error if no such credential is configured). */
export async function collectStatus(config: ProxyConfig, credential?: string): Promise<StatusReport> {
  const wanted = credential === undefined ? config.credentials : [credentialByName(config, credential)]
  if (config.store) {
    // a fleet: the replicas keep no state file; the store holds each credential's state (Redis loads only here)
    const { collectStoreStatus } = await import('./store-status.js')
    return { running: undefined, ...(await collectStoreStatus(config, wanted)) }
  }
  const state = readStateFile(config.stateFile)
  for (const c of wanted) checkStateIdentity(state, c, config.stateFile)
  const names = new Set(wanted.map((c) => c.name))
  const running = runningProxy(config.stateFile)
  if (running) {
    const body = await askProxy<{ credentials: CredentialStatusJson[] }>(running, '/-/status')
    return {
      running: { pid: running.pid, adminUrl: running.adminUrl },
      credentials: body.credentials.filter((c) => names.has(c.credential)),
    }
  }
  return {
    running: undefined,
    credentials: wanted.map((c) => {
      const saved = state?.credentials?.[c.name]
      const entry: StatusReport['credentials'][number] = {
        credential: c.name,
        grant: c.grant,
        configuredScope: c.scope,
      }
      if (saved?.subject) entry.subject = saved.subject
      if (saved?.refreshTokenObtainedAtMs !== undefined) entry.refreshTokenObtainedAtMs = saved.refreshTokenObtainedAtMs
      // the access token login or token saved, while it lasts, and the scope it carries
      if (saved?.accessTokenExpiresAtMs !== undefined && saved.accessTokenExpiresAtMs > Date.now()) {
        entry.accessTokenExpiresAtMs = saved.accessTokenExpiresAtMs
        const scope = saved.accessToken ? claimsOf({ accessToken: saved.accessToken }).scope : undefined
        if (scope !== undefined) entry.scope = scope
      }
      entry.health =
        c.grant === 'refresh_token' && !saved?.refreshToken && !c.refreshToken ? 'login_required' : 'stopped'
      return entry
    }),
  }
}

/**
 * The exit code of `status`, for scripts and probes: the most serious state of any credential shown.
 * 0 every credential holds a valid token; 4 login_required; 5 credential_rejected; 6 not ready
 * (starting, failing); 7 no proxy running on the state file.
 */
export function statusExitCode(report: StatusReport): number {
  const healths = new Set(report.credentials.map((c) => c.health))
  if (healths.has('credential_rejected')) return EXIT.credentialRejected
  if (healths.has('login_required')) return EXIT.login
  if (healths.has('starting') || healths.has('failing') || healths.has(undefined)) return EXIT.notReady
  if ((!report.running && !report.store) || healths.has('stopped')) return EXIT.notRunning
  return EXIT.ok
}

export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
}

export function renderStatus(report: StatusReport, config: ProxyConfig, now = Date.now()): string[] {
  const lines: string[] = []
  if (report.store) lines.push(...renderStore(report.store))
  else
    lines.push(
      report.running
        ? `proxy: running (pid ${report.running.pid}), admin at ${report.running.adminUrl}`
        : `proxy: not running (state file ${config.stateFile})`,
    )
  lines.push(`upstream: ${config.oacUrl}`)
  for (const c of report.credentials) {
    lines.push('')
    lines.push(`credential ${c.credential} (${c.grant}): ${c.health ?? 'unknown'}`)
    if (report.store) {
      lines.push(...renderStored(c, now))
      continue
    }
    if (c.subject) lines.push(`  signed in as:   ${c.subject}`)
    if (c.scope) lines.push(`  token scope:    ${c.scope}`)
    if (c.configuredScope) lines.push(`  config scope:   ${c.configuredScope}`)
    if (c.accessTokenExpiresAtMs !== undefined) {
      const left = c.accessTokenExpiresAtMs - now
      lines.push(
        `  access token:   ${left > 0 ? `expires in ${formatDuration(left)}` : 'expired'} (${new Date(c.accessTokenExpiresAtMs).toISOString()})${report.running ? '' : ', saved by login or token'}`,
      )
    } else lines.push(`  access token:   none held${report.running ? '' : ' (the proxy is not running)'}`)
    if (c.refreshTokenObtainedAtMs !== undefined) {
      const age = now - c.refreshTokenObtainedAtMs
      const left = IDCS_DEFAULT_REFRESH_TOKEN_LIFETIME_MS - age
      lines.push(
        `  refresh token:  received ${formatDuration(age)} ago; with IDCS's default 7-day lifetime it expires in about ${formatDuration(Math.max(0, left))}, unless used`,
      )
    } else if (c.grant === 'refresh_token')
      lines.push(
        `  refresh token:  none saved yet${c.health === 'login_required' ? '' : ' (the configured refreshToken is used at the first refresh)'}`,
      )
    if (c.lastRefreshAtMs !== undefined) lines.push(`  last refresh:   ${formatDuration(now - c.lastRefreshAtMs)} ago`)
    if (c.nextRefreshAtMs !== undefined) lines.push(`  next refresh:   in ${formatDuration(c.nextRefreshAtMs - now)}`)
    if (c.refreshes !== undefined) lines.push(`  refreshes:      ${c.refreshes} ok, ${c.failures ?? 0} failed`)
    if (c.lastError) lines.push(`  last error:     ${c.lastError.code}: ${c.lastError.message}`)
    if (c.login) lines.push(`  sign-in needed: open ${c.login.verificationUri} and enter ${c.login.userCode}`)
    if (c.health === 'login_required' && !c.login) lines.push(`  to sign in:     ${signInAdvice(report, config)}`)
  }
  return lines
}

/** How to sign in again: login takes the state file's lock, so a running proxy either signs in by itself or must stop. */
function signInAdvice(report: StatusReport, config: ProxyConfig): string {
  if (!report.running) return 'oac-token-proxy login'
  if (config.login.headless && config.login.method === 'device')
    return 'the proxy starts a device login by itself; its code shows here and on its status page /-/ (run status again)'
  return `stop the proxy (pid ${report.running.pid}), run oac-token-proxy login, then start it again (or set login.headless: true)`
}

/** The store's lines of `status`: where the fleet keeps its state, and how it is protected. */
function renderStore(store: StoreReport): string[] {
  return [
    `store: Redis (${store.kind === 'sentinel' ? 'Sentinel' : 'single node'}) at ${store.target}, key prefix ${store.keyPrefix}`,
    `  encryption:     ${store.encrypted ? `AES-256-GCM, key id ${store.keyId ?? 'unknown'}` : 'NONE (store.encryption: none)'}`,
  ]
}

/** A credential's lines on a shared store: the stored version, who wrote it and when, and its tokens' state. */
function renderStored(c: StatusReport['credentials'][number], now: number): string[] {
  const lines: string[] = []
  if (c.subject) lines.push(`  signed in as:   ${c.subject}`)
  if (c.configuredScope) lines.push(`  config scope:   ${c.configuredScope}`)
  if (!c.version) {
    lines.push('  stored state:   none yet (version 0)')
    if (c.grant === 'refresh_token') lines.push('  to sign in:     oac-token-proxy login')
    return lines
  }
  const when = c.updatedAtMs !== undefined ? ` at ${c.updatedAt} (${formatDuration(now - c.updatedAtMs)} ago)` : ''
  lines.push(`  stored state:   version ${c.version}, written by ${c.writtenBy ?? 'unknown'}${when}`)
  lines.push(
    c.accessTokenExpiresAtMs !== undefined
      ? `  access token:   expires in ${formatDuration(c.accessTokenExpiresAtMs - now)} (${c.accessTokenExpiresAt})`
      : '  access token:   none valid stored (a replica refreshes it when asked)',
  )
  if (c.grant === 'refresh_token') lines.push(`  refresh token:  ${c.refreshTokenStored ? 'stored' : 'none stored'}`)
  if (c.health === 'login_required') lines.push('  to sign in:     oac-token-proxy login')
  return lines
}
