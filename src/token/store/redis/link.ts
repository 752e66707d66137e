// One Redis link: a command connection and a subscriber connection (plain or Sentinel), with errors mapped to store codes.
import {
  createClient,
  createSentinel,
  ErrorReply,
  type RedisClientOptions,
  type RedisClientType,
  type RedisSentinelType,
} from '@redis/client'
import { ProxyError } from '../../../shared/errors.js'
import { reconnectDelayMs, type ResolvedConnection } from './connection.js'

export type LinkEvent =
  /** A connection came (back) up: announcements may have been missed, so callers re-read. */
  | { type: 'ready'; connection: 'command' | 'subscriber'; reconnect: boolean }
  /** A connection broke or could not be opened; the link keeps retrying. `error` is already safe to log. */
  | { type: 'error'; connection: 'command' | 'subscriber'; error: ProxyError }

/** The narrow surface the store needs; both a single server and a Sentinel set provide it. */
export interface RedisLink {
  readonly target: string
  /** Sends one command; rejects with store_unavailable/store_refused, never waiting past the command timeout. */
  command(args: string[], op: string): Promise<unknown>
  subscribe(channel: string, listener: (message: string) => void): Promise<void>
  unsubscribe(channel: string, listener: (message: string) => void): Promise<void>
  /** True while the command connection is up. */
  readonly isReady: boolean
  on(listener: (event: LinkEvent) => void): void
  close(): Promise<void>
}

/** How often the Sentinel client re-asks the sentinels for the master: bounds how long a failover stalls writes. */
export const SENTINEL_SCAN_INTERVAL_MS = 2_000

const TLS_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

const REFUSING_REPLIES = new Set(['WRONGPASS', 'NOAUTH', 'NOPERM', 'ERR AUTH'])

/**
 * Maps what node-redis threw onto a store error whose message is safe to show: the operation, the redacted
 * target and a short reason (an error code or the first word of Redis' reply), never a password or a value.
 */
export function toStoreError(err: unknown, op: string, target: string, lastConnectError?: unknown): ProxyError {
  if (err instanceof ProxyError) return err
  // a command refused while offline: the reason is why the connection is down
  const offline = err instanceof Error && /offline|closed/i.test(err.constructor.name)
  const reasonSource = offline && lastConnectError !== undefined ? lastConnectError : err
  const { code, reason } = classify(reasonSource)
  const finalCode = offline && code !== 'store_refused' ? 'store_unavailable' : code
  const hint =
    finalCode === 'store_refused'
      ? 'check store.url/store.password (ACL user and password), the ACL permissions and tls.caFile'
      : 'the proxy retries by itself; check that Redis runs and is reachable'
  return new ProxyError(finalCode, `Redis store ${op} failed at ${target}: ${reason}`, { cause: err, hint })
}

function classify(err: unknown): { code: 'store_unavailable' | 'store_refused'; reason: string } {
  if (err instanceof ErrorReply) {
    const word = /^[A-Z]+(?: AUTH)?/.exec(err.message)?.[0] ?? 'ERR'
    if (REFUSING_REPLIES.has(word) || /^ERR AUTH|^ERR invalid password|^ERR Client sent AUTH/.test(err.message))
      return { code: 'store_refused', reason: `authentication or permission refused (${word})` }
    return { code: 'store_unavailable', reason: `Redis answered ${word}` }
  }
  if (err instanceof Error) {
    const errno = (err as NodeJS.ErrnoException).code
    if (errno && TLS_ERROR_CODES.has(errno))
      return { code: 'store_refused', reason: `TLS certificate not trusted (${errno})` }
    if (/ssl|tls|wrong version number/i.test(err.message) && !errno)
      return { code: 'store_refused', reason: 'TLS handshake failed' }
    if (errno) return { code: 'store_unavailable', reason: errno }
    const name = err.constructor.name
    if (err instanceof CommandDeadlineError || /Timeout/.test(name) || err.name === 'TimeoutError')
      return { code: 'store_unavailable', reason: 'timed out' }
    if (name === 'ClientOfflineError') return { code: 'store_unavailable', reason: 'not connected' }
    if (name === 'ClientClosedError') return { code: 'store_unavailable', reason: 'the store is closed' }
    // the server went away while the command was on the wire (before the client noticed it was offline)
    if (name === 'SocketClosedUnexpectedlyError') return { code: 'store_unavailable', reason: 'connection closed' }
    return { code: 'store_unavailable', reason: name }
  }
  return { code: 'store_unavailable', reason: 'unknown error' }
}

/** Thrown when a command's answer did not come within the command timeout. */
export class CommandDeadlineError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`)
    this.name = 'TimeoutError'
  }
}

/**
 * node-redis only times out commands not yet sent; one already sent waits for its answer however long the
 * server takes (that keeps replies in order). The caller stops waiting here; the command stays queued, so
 * its late answer is consumed by it and never taken for another command's. A write that timed out may
 * still be applied: its outcome is unknown until the next read.
 */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommandDeadlineError(ms)), ms)
  })
  promise.catch(() => {})
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** No modules, functions, scripts or type mapping: plain commands only. */
type None = Record<never, never>
type AnyClient = RedisClientType<None, None, None, 2, None>
type AnySentinel = RedisSentinelType<None, None, None, 2, None>

function socketOptions(c: ResolvedConnection) {
  return {
    connectTimeout: c.connectTimeoutMs,
    reconnectStrategy: (retries: number) => reconnectDelayMs(retries),
    ...(c.tls ? { tls: true as const, ...c.tls } : {}),
  }
}

function clientOptions(c: ResolvedConnection, socket: object): RedisClientOptions<None, None, None, 2, None> {
  return {
    RESP: 2,
    socket,
    ...(c.auth.username !== undefined ? { username: c.auth.username } : {}),
    ...(c.auth.password !== undefined ? { password: c.auth.password } : {}),
    ...(c.database ? { database: c.database } : {}),
    ...(c.clientName ? { name: c.clientName } : {}),
    // fail at once while disconnected rather than queue commands whose answers come too late
    disableOfflineQueue: true,
    commandOptions: { timeout: c.commandTimeoutMs },
    disableClientInfo: true,
  }
}

/** Opens the connections; resolves once the command connection is up or rejects after the connect timeout. */
export async function openLink(
  c: ResolvedConnection,
  options: { waitForConnection?: boolean } = {},
): Promise<RedisLink> {
  const link = c.kind === 'single' ? new SingleLink(c) : new SentinelLink(c)
  const started = link.start()
  if (options.waitForConnection === false) {
    started.catch(() => {})
    return link
  }
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      started,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('connect timeout')), c.connectTimeoutMs + 500)
      }),
    ])
    // a connection is not proof of access: AUTH may be deferred, a TLS port may swallow plain text
    await link.command(['PING'], 'connect')
  } catch (err) {
    const error = err instanceof ProxyError ? err : toStoreError(link.lastConnectError ?? err, 'connect', c.target)
    await link.close()
    throw error
  } finally {
    clearTimeout(timer)
  }
  return link
}

abstract class BaseLink implements RedisLink {
  readonly target: string
  lastConnectError: unknown
  protected listeners: Array<(e: LinkEvent) => void> = []
  protected readyCount = { command: 0, subscriber: 0 }
  protected closed = false
  constructor(protected readonly c: ResolvedConnection) {
    this.target = c.target
  }
  abstract get isReady(): boolean
  on(listener: (event: LinkEvent) => void): void {
    this.listeners.push(listener)
  }
  protected emit(event: LinkEvent): void {
    for (const l of this.listeners) l(event)
  }
  protected ready(connection: 'command' | 'subscriber'): void {
    this.emit({ type: 'ready', connection, reconnect: this.readyCount[connection]++ > 0 })
  }
  protected failed(connection: 'command' | 'subscriber', err: unknown): void {
    if (connection === 'command') this.lastConnectError = err
    if (!this.closed) this.emit({ type: 'error', connection, error: toStoreError(err, 'connection', this.target) })
  }
  abstract start(): Promise<void>
  abstract command(args: string[], op: string): Promise<unknown>
  abstract subscribe(channel: string, listener: (message: string) => void): Promise<void>
  abstract unsubscribe(channel: string, listener: (message: string) => void): Promise<void>
  abstract close(): Promise<void>
}

class SingleLink extends BaseLink {
  private readonly client: AnyClient
  private readonly subscriber: AnyClient
  constructor(c: ResolvedConnection & { kind: 'single' }) {
    super(c)
    this.client = createClient(
      clientOptions(c, { ...socketOptions(c), host: c.node.host, port: c.node.port }),
    ) as AnyClient
    this.subscriber = this.client.duplicate()
    for (const [name, client] of [
      ['command', this.client],
      ['subscriber', this.subscriber],
    ] as const) {
      client.on('ready', () => this.ready(name))
      client.on('error', (err: unknown) => this.failed(name, err))
    }
  }
  get isReady(): boolean {
    return !this.closed && this.client.isReady
  }
  async start(): Promise<void> {
    await Promise.all([this.client.connect(), this.subscriber.connect()])
  }
  async command(args: string[], op: string): Promise<unknown> {
    try {
      return await withDeadline(this.client.sendCommand(args), this.c.commandTimeoutMs)
    } catch (err) {
      throw toStoreError(err, op, this.target, this.lastConnectError)
    }
  }
  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    try {
      await this.subscriber.subscribe(channel, listener)
    } catch (err) {
      throw toStoreError(err, 'subscribe', this.target, this.lastConnectError)
    }
  }
  async unsubscribe(channel: string, listener: (message: string) => void): Promise<void> {
    if (this.subscriber.isOpen) await this.subscriber.unsubscribe(channel, listener).catch(() => {})
  }
  async close(): Promise<void> {
    this.closed = true
    for (const client of [this.client, this.subscriber]) {
      if (client.isReady) await client.close().catch(() => client.destroy())
      else if (client.isOpen) client.destroy()
    }
  }
}

class SentinelLink extends BaseLink {
  private readonly sentinel: AnySentinel
  constructor(c: ResolvedConnection & { kind: 'sentinel' }) {
    super(c)
    const socket = socketOptions(c)
    this.sentinel = createSentinel({
      name: c.masterName,
      sentinelRootNodes: c.sentinels,
      RESP: 2,
      commandOptions: { timeout: c.commandTimeoutMs },
      nodeClientOptions: clientOptions(c, socket) as never,
      sentinelClientOptions: {
        RESP: 2,
        socket,
        ...(c.sentinelAuth.username !== undefined ? { username: c.sentinelAuth.username } : {}),
        ...(c.sentinelAuth.password !== undefined ? { password: c.sentinelAuth.password } : {}),
      } as never,
      passthroughClientErrorEvents: true,
      scanInterval: SENTINEL_SCAN_INTERVAL_MS,
    }) as unknown as AnySentinel
    this.sentinel.on('ready', () => this.ready('command'))
    this.sentinel.on('error', (err: unknown) => this.failed('command', err))
    // a new master: announcements published during the switch may be lost, so callers re-read
    this.sentinel.on('topology-change', (event: { type?: string }) => {
      if (event?.type === 'MASTER_CHANGE') this.emit({ type: 'ready', connection: 'subscriber', reconnect: true })
    })
  }
  get isReady(): boolean {
    return !this.closed && this.sentinel.isReady
  }
  async start(): Promise<void> {
    await this.sentinel.connect()
  }
  async command(args: string[], op: string): Promise<unknown> {
    try {
      return await withDeadline(this.sentinel.sendCommand(false, args), this.c.commandTimeoutMs)
    } catch (err) {
      throw toStoreError(err, op, this.target, this.lastConnectError)
    }
  }
  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    try {
      await this.sentinel.subscribe(channel, listener)
    } catch (err) {
      throw toStoreError(err, 'subscribe', this.target, this.lastConnectError)
    }
  }
  async unsubscribe(channel: string, listener: (message: string) => void): Promise<void> {
    await this.sentinel.unsubscribe(channel, listener as never).catch(() => {})
  }
  async close(): Promise<void> {
    this.closed = true
    await this.sentinel.close().catch(() => this.sentinel.destroy())
  }
}
