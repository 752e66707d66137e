// Redis connection options from a config-like object: redis://, rediss:// with a CA file, or a Sentinel set; secrets redacted.
import { readFileSync } from 'node:fs'
import { ProxyError } from '../../../shared/errors.js'

export const DEFAULT_REDIS_PORT = 6379
export const DEFAULT_SENTINEL_PORT = 26379
/** Time allowed to open a connection (TCP + TLS + AUTH) before the attempt counts as failed. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
/** Time allowed for one command's answer; a store call never waits longer than this. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000
/** Reconnection backoff: doubles from the first delay up to the cap, plus up to 20% jitter. */
export const RECONNECT_FIRST_DELAY_MS = 50
export const RECONNECT_MAX_DELAY_MS = 2_000

/** What a configuration gives (the `store` section, secrets already read from their files). */
export interface RedisConnectionConfig {
  /** `redis://[user[:password]@]host[:port][/db]` or `rediss://...` (TLS); not with `sentinel`. */
  url?: string
  /** A Sentinel-managed master instead of `url`. */
  sentinel?: SentinelConfig
  /** ACL user; overrides the URL's. */
  username?: string
  /** Password (ACL or requirepass); overrides the URL's. */
  password?: string
  /** Database number; overrides the URL's path. */
  database?: number
  /** `ca`: PEM already read (the proxy's tls.caFile); `caFile`: a file to read. */
  tls?: { caFile?: string; ca?: string; servername?: string }
  connectTimeoutMs?: number
  commandTimeoutMs?: number
  /** Shown in CLIENT LIST (e.g. `oac-token-proxy`). */
  clientName?: string
}

export interface SentinelConfig {
  /** The master's name as the sentinels know it (`sentinel monitor <name> ...`). */
  masterName: string
  /** `host:port` of one or more sentinels. */
  nodes: string[]
  /** The sentinels' own password (`requirepass` in sentinel.conf), if any. */
  password?: string
  username?: string
  /** Speak TLS to the sentinels and the data nodes (with `tls.caFile`). */
  tls?: boolean
}

export interface HostPort {
  host: string
  port: number
}

/** Everything needed to open connections, validated; `target` is safe to log. */
export type ResolvedConnection =
  | (CommonOptions & { kind: 'single'; node: HostPort })
  | (CommonOptions & { kind: 'sentinel'; masterName: string; sentinels: HostPort[]; sentinelAuth: Auth })

interface Auth {
  username?: string
  password?: string
}

interface CommonOptions {
  /** Redacted description, e.g. `rediss://proxy:***@redis:6380/0` or `sentinel mymaster@s1:26379,s2:26379`. */
  target: string
  auth: Auth
  database: number
  tls: { ca?: string; servername?: string } | undefined
  connectTimeoutMs: number
  commandTimeoutMs: number
  clientName: string | undefined
}

/** A Redis URL with its password replaced by `***`; an unparsable string is never echoed. */
export function redactRedisUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return '[unparsable URL]'
  }
  if (parsed.password) parsed.password = '***'
  return parsed.href
}

/** What the URL gives: the node, its credentials and database, whether it asks for TLS. */
interface UrlTarget {
  node: HostPort
  auth: Auth
  database: number
  tlsWanted: boolean
  target: string
}

/** What the sentinel section gives: the sentinels, their credentials, whether it asks for TLS. */
interface SentinelTarget {
  sentinels: HostPort[]
  sentinelAuth: Auth
  tlsWanted: boolean
  target: string
}

/**
 * Validates the config and resolves it; every problem is reported at once, naming the key under
 * `path` (e.g. `store.url`), never quoting a password.
 */
export function resolveConnection(config: RedisConnectionConfig, path = 'store'): ResolvedConnection {
  const problems: string[] = []
  if (config.url !== undefined && config.sentinel !== undefined)
    problems.push(`${path}.url and ${path}.sentinel: give one of them, not both`)
  if (config.url === undefined && config.sentinel === undefined)
    problems.push(`${path}.url: missing (redis://host:6379/0, rediss://... for TLS) or give ${path}.sentinel`)

  const fromUrl = config.url === undefined ? undefined : urlTarget(config.url, path, problems)
  const fromSentinel = config.sentinel === undefined ? undefined : sentinelTarget(config.sentinel, path, problems)
  const tlsWanted = fromSentinel ? fromSentinel.tlsWanted : (fromUrl?.tlsWanted ?? false)

  const auth: Auth = { ...fromUrl?.auth }
  if (config.username !== undefined) auth.username = config.username
  if (config.password !== undefined) auth.password = config.password
  const database = databaseOf(config, fromUrl?.database ?? 0, path, problems)
  const connectTimeoutMs = positive(config.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, `${path}.connectTimeoutMs`)
  const commandTimeoutMs = positive(config.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS, `${path}.commandTimeoutMs`)
  for (const p of [connectTimeoutMs, commandTimeoutMs]) if (typeof p === 'string') problems.push(p)
  const tls = tlsOptions(config, tlsWanted, path, problems)

  if (problems.length > 0)
    throw new ProxyError('config_invalid', `invalid Redis store settings:\n  ${problems.join('\n  ')}`)

  const common: CommonOptions = {
    target: fromSentinel?.target ?? fromUrl?.target ?? '',
    auth,
    database,
    tls,
    connectTimeoutMs: connectTimeoutMs as number,
    commandTimeoutMs: commandTimeoutMs as number,
    clientName: config.clientName,
  }
  if (config.sentinel !== undefined && fromSentinel) {
    const { sentinels, sentinelAuth } = fromSentinel
    return { ...common, kind: 'sentinel', masterName: config.sentinel.masterName, sentinels, sentinelAuth }
  }
  return { ...common, kind: 'single', node: fromUrl?.node as HostPort }
}

/** Reads `store.url`; undefined (with a problem) when it is no URL at all. */
function urlTarget(text: string, path: string, problems: string[]): UrlTarget | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    problems.push(`${path}.url: not a URL; expected redis://[user[:password]@]host[:port][/db]`)
    return undefined
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    problems.push(`${path}.url: the scheme must be redis:// or rediss:// (TLS), not ${url.protocol}//`)
  if (!url.hostname) problems.push(`${path}.url: no host`)
  if (url.search || url.hash) problems.push(`${path}.url: query strings and fragments are not supported`)
  const port = url.port ? Number(url.port) : DEFAULT_REDIS_PORT
  const auth: Auth = {}
  try {
    if (url.username) auth.username = decodeURIComponent(url.username)
    if (url.password) auth.password = decodeURIComponent(url.password)
  } catch {
    problems.push(`${path}.url: the user or password is not valid percent-encoding`)
  }
  let database = 0
  const dbPath = url.pathname.replace(/^\//, '')
  if (dbPath !== '') {
    if (!/^\d{1,5}$/.test(dbPath)) problems.push(`${path}.url: the path must be a database number like /0`)
    else database = Number(dbPath)
  }
  return {
    node: { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port },
    auth,
    database,
    tlsWanted: url.protocol === 'rediss:',
    target: redactRedisUrl(text),
  }
}

/** Reads `store.sentinel`: the master's name and the sentinels to ask for it. */
function sentinelTarget(s: SentinelConfig, path: string, problems: string[]): SentinelTarget {
  const sentinels: HostPort[] = []
  const sentinelAuth: Auth = {}
  if (typeof s.masterName !== 'string' || s.masterName === '')
    problems.push(`${path}.sentinel.masterName: missing (the name in "sentinel monitor <name> ...")`)
  if (!Array.isArray(s.nodes) || s.nodes.length === 0)
    problems.push(`${path}.sentinel.nodes: give at least one sentinel as host:port`)
  else
    s.nodes.forEach((n, i) => {
      const hp = parseHostPort(n, DEFAULT_SENTINEL_PORT)
      if (hp) sentinels.push(hp)
      else problems.push(`${path}.sentinel.nodes[${i}]: expected host:port`)
    })
  if (s.password !== undefined) sentinelAuth.password = s.password
  if (s.username !== undefined) sentinelAuth.username = s.username
  const target = `sentinel ${s.masterName}@${sentinels.map((h) => `${h.host}:${h.port}`).join(',')}`
  return { sentinels, sentinelAuth, tlsWanted: s.tls === true, target }
}

/** `store.database` when given (it overrides the URL's path), else the URL's database. */
function databaseOf(config: RedisConnectionConfig, fromUrl: number, path: string, problems: string[]): number {
  if (config.database === undefined) return fromUrl
  if (!Number.isInteger(config.database) || config.database < 0) {
    problems.push(`${path}.database: must be a whole number >= 0`)
    return fromUrl
  }
  return config.database
}

/** TLS options when the URL or the sentinel section asks for TLS, with the CA file read. */
function tlsOptions(
  config: RedisConnectionConfig,
  tlsWanted: boolean,
  path: string,
  problems: string[],
): CommonOptions['tls'] {
  if (config.tls?.caFile !== undefined && !tlsWanted)
    problems.push(`${path}.tls.caFile: only used with TLS; use a rediss:// URL (or sentinel.tls: true)`)
  if (!tlsWanted) return undefined
  const tls: NonNullable<CommonOptions['tls']> = {}
  if (config.tls?.servername !== undefined) tls.servername = config.tls.servername
  if (config.tls?.ca !== undefined) tls.ca = config.tls.ca
  if (config.tls?.caFile !== undefined) {
    const ca = readCa(config.tls.caFile, `${path}.tls.caFile`)
    if ('pem' in ca) tls.ca = ca.pem
    else problems.push(ca.problem)
  }
  return tls
}

function parseHostPort(text: string, defaultPort: number): HostPort | undefined {
  if (typeof text !== 'string') return undefined
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(text)
  if (!m) return undefined
  const port = m[3] === undefined ? defaultPort : Number(m[3])
  if (port < 1 || port > 65535) return undefined
  return { host: (m[1] ?? m[2]) as string, port }
}

function positive(value: number | undefined, fallback: number, key: string): number | string {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) return `${key}: must be a positive number of milliseconds`
  return value
}

function readCa(file: string, key: string): { pem: string } | { problem: string } {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    return { problem: `${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` }
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) return { problem: `${key}: ${file} holds no PEM certificate` }
  return { pem: text }
}

/** The delay before reconnection attempt `retries` (0-based): exponential with jitter, never giving up. */
export function reconnectDelayMs(retries: number, random: () => number = Math.random): number {
  const base = Math.min(RECONNECT_FIRST_DELAY_MS * 2 ** Math.min(retries, 16), RECONNECT_MAX_DELAY_MS)
  return Math.round(base * (1 + 0.2 * random()))
}
