// What the fleet suites share: a Redis, the simulator behind a tap, one config with a store section, replica
// processes (`serve`, each with its own port, state file and replica id), a load client, and a watch on the store.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@redis/client'
import { decodeJwt } from 'jose'
import type { Test } from 'tap'
import { Pool } from 'undici'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js'
import { registerSecret, spawnProxy, waitFor, writeSimConfig, type SpawnedProxy } from '../helpers.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { startIdcsTap, type IdcsTap } from './idcs-tap.js'

export { redisMissing } from '../helpers/redis-server.js'
export { waitFor }

export const CATALOG = '/api/20210901/catalog?type=workbooks'

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Prints a figure line both on the console and as a TAP comment. */
export function report(t: Test, line: string): void {
  console.log(line)
  t.comment(line)
}

/** The value at quantile q (0..1) of numbers (sorted here). */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

/**
 * The identity domain's successful refresh calls since `fromMs`, each with how early it came: the margin (ms) between
 * the call and the moment the token of the previous call became due (0.4 of its life: half, minus the jitter). A
 * negative margin is a replica refreshing although a fresh token was stored. Calls are serialised by the lock, so
 * the n-th call issued the n-th access token.
 */
export function refreshMargins(sim: Simulator, fromMs: number): { calls: number; margins: number[] } {
  const calls = sim.calls.filter((c) => c.server === 'idcs' && c.grantType === 'refresh_token' && c.status === 200)
  const tokens = sim.issued.accessTokens
  const margins: number[] = []
  calls.forEach((call, i) => {
    const previous = calls[i - 1]
    if (!previous || call.atMs < fromMs) return
    const exp = (decodeJwt(tokens[i - 1] as string).exp ?? 0) * 1000
    const due = previous.atMs + 0.4 * (exp - previous.atMs)
    margins.push(call.atMs - due)
  })
  return { calls: calls.filter((c) => c.atMs >= fromMs).length, margins }
}

/** A store announcement as a watcher received it. */
export interface Announcement {
  channel: string
  version: number
  writer: string
  kind: string
  at: number
}

/** Follows every announcement under a key prefix (its own connection, pattern subscription). */
export class StoreWatch {
  readonly events: Announcement[] = []

  static async start(t: Test, redis: RedisServer, prefix: string): Promise<StoreWatch> {
    const client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 100 } })
    client.on('error', () => {})
    await client.connect()
    const watch = new StoreWatch()
    await client.pSubscribe(`${prefix}:*`, (message, channel) => {
      const at = performance.now()
      try {
        const a = JSON.parse(message) as { v?: unknown; w?: unknown; k?: unknown }
        watch.events.push({ channel, version: Number(a.v), writer: String(a.w), kind: String(a.k), at })
      } catch {
        watch.events.push({ channel, version: NaN, writer: '?', kind: 'unparsable', at })
      }
    })
    t.teardown(async () => {
      await client.close().catch(() => {})
    })
    return watch
  }

  writes(channel?: string): Announcement[] {
    return this.events.filter((e) => e.kind === 'write' && (channel === undefined || e.channel === channel))
  }

  channels(): string[] {
    return [...new Set(this.events.map((e) => e.channel))].sort()
  }
}

/** The state keys under a prefix (KEYS is fine on a test server). */
export function stateKeys(redis: RedisServer, prefix: string): string[] {
  return redis
    .cli('--raw', 'KEYS', `${prefix}:*:state`)
    .split('\n')
    .filter((k) => k !== '')
    .sort()
}

/** The stored version of a state key (0 when absent). */
export function storedVersion(redis: RedisServer, key: string): number {
  return Number(redis.cli('--raw', 'HGET', key, 'v')) || 0
}

export interface Replica {
  index: number
  /** The replica id it runs with (a restart gets a new one: `<name><index>.<generation>`). */
  id: string
  proxy: SpawnedProxy
  pool: Pool
  alive: boolean
}

export interface FleetOptions {
  /** Access-token lifetime of the simulator, in seconds. */
  lifetimeS: number
  /** Extra config keys (merged over the base). */
  config?: Record<string, unknown> | ((sim: Simulator) => Record<string, unknown>)
  /** Share this Redis (default: a new one). */
  redis?: RedisServer
  keyPrefix?: string
  simulator?: SimulatorOptions
  /** Replica ids are `<name><index>.<generation>`; default 'r'. */
  name?: string
  /** Files written beside the config (name -> content, mode 0600). */
  files?: (sim: Simulator) => Record<string, string>
}

/** One config shared by a fleet of replica processes. */
export class Fleet {
  readonly replicas: Replica[] = []
  private generation = new Map<number, number>()

  private constructor(
    readonly t: Test,
    readonly sim: Simulator,
    readonly redis: RedisServer,
    readonly tap: IdcsTap,
    readonly dir: string,
    readonly configPath: string,
    readonly keyPrefix: string,
    readonly watch: StoreWatch,
    readonly name: string,
  ) {}

  static async start(t: Test, options: FleetOptions): Promise<Fleet> {
    const sim = await startSimulator({ accessTokenLifetimeS: options.lifetimeS, ...options.simulator })
    t.teardown(() => sim.close())
    const redis = options.redis ?? (await startRedis(t))
    const keyPrefix = options.keyPrefix ?? 'oac-token-proxy'
    const holder: { fleet?: Fleet } = {}
    const tap = await startIdcsTap(
      t,
      sim,
      () => holder.fleet?.replicas.filter((r) => r.alive).map((r) => r.proxy.pid) ?? [],
    )
    // a directory per fleet: a test may start several
    const dir = mkdtempSync(join(tmpdir(), 'oac-fleet-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const key = randomBytes(32).toString('base64')
    registerSecret(key)
    writeFileSync(join(dir, 'store-key'), key + '\n', { mode: 0o600 })
    // the simulator's config, through the tap, on the store; each replica gets its own state file when spawned
    const configPath = await writeSimConfig(dir, sim, {
      idcsUrl: tap.url,
      stateFile: undefined,
      log: { level: 'info', requests: false },
      login: { headless: false },
      store: { url: redis.url, keyPrefix, encryptionKey: { file: 'store-key' } },
      ...(typeof options.config === 'function' ? options.config(sim) : options.config),
    })
    // a test's own files last: they may replace what the config names
    for (const [name, content] of Object.entries(options.files?.(sim) ?? {}))
      writeFileSync(join(dir, name), content, { mode: 0o600 })
    const watch = await StoreWatch.start(t, redis, keyPrefix)
    const fleet = new Fleet(t, sim, redis, tap, dir, configPath, keyPrefix, watch, options.name ?? 'r')
    holder.fleet = fleet
    return fleet
  }

  /** Starts replica `index` (again, after a kill): its own state file, port and replica id; waits until it listens. */
  async spawn(index: number): Promise<Replica> {
    const gen = (this.generation.get(index) ?? 0) + 1
    this.generation.set(index, gen)
    const id = `${this.name}${index}.${gen}`
    const proxy = await spawnProxy(this.t, this.configPath, {
      OAC_PROXY_STATE_FILE: join(this.dir, `state-${index}.json`),
      OAC_PROXY_STORE_REPLICA_ID: id,
    })
    const pool = new Pool(proxy.url, { connections: 8 })
    this.t.teardown(() => pool.destroy())
    const replica: Replica = { index, id, proxy, pool, alive: true }
    void proxy.exited.then(() => {
      replica.alive = false
    })
    this.replicas[index] = replica
    return replica
  }

  /** Starts replica 0, waits for it to serve, then the others side by side. */
  async spawnAll(count: number): Promise<void> {
    await this.spawn(0)
    const first = await serveUntilOk(this.replicas[0] as Replica, 20_000)
    if (first !== 'ok') throw new Error(`the first replica does not serve: ${first}`)
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => this.spawn(i + 1)))
  }

  live(): Replica[] {
    return this.replicas.filter((r) => r.alive)
  }

  byPid(pid: number | undefined): Replica | undefined {
    return this.replicas.find((r) => r.alive && r.proxy.pid === pid)
  }

  async kill(replica: Replica): Promise<void> {
    replica.alive = false
    replica.proxy.child.kill('SIGKILL')
    await replica.proxy.exited
  }

  /** SIGTERM to every live replica; resolves with their exit codes. */
  async stopAll(): Promise<Array<number | string>> {
    const live = this.live()
    for (const r of live) r.proxy.child.kill('SIGTERM')
    return Promise.all(live.map((r) => r.proxy.exited))
  }
}

/** One answer of a replica, reduced to what the suites count. */
export interface Answer {
  status: number
  /** The JSON error code of a non-2xx answer (or 'not JSON'). */
  code?: string
  retryAfter?: string
  /** A transport error instead of an answer. */
  transport?: string
}

export async function ask(replica: Replica, path = CATALOG): Promise<Answer> {
  try {
    const res = await replica.pool.request({ method: 'GET', path, headersTimeout: 20_000, bodyTimeout: 20_000 })
    const text = await res.body.text()
    if (res.statusCode < 300) return { status: res.statusCode }
    let code: string
    try {
      code = String((JSON.parse(text) as { error?: unknown }).error)
    } catch {
      code = 'not JSON'
    }
    const ra = res.headers['retry-after']
    return { status: res.statusCode, code, ...(typeof ra === 'string' ? { retryAfter: ra } : {}) }
  } catch (err) {
    return { status: 0, transport: (err as { code?: string }).code ?? String(err) }
  }
}

export function label(a: Answer): string {
  return a.transport ? `transport ${a.transport}` : a.code ? `${a.status} ${a.code}` : String(a.status)
}

/** Asks until a 200 comes (or timeoutMs passes); 'ok' or the last answer. */
export async function serveUntilOk(replica: Replica, timeoutMs: number, path = CATALOG): Promise<string> {
  const until = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < until) {
    const a = await ask(replica, path)
    if (a.status === 200) return 'ok'
    last = label(a)
    await sleep(100)
  }
  return last
}

/** What a load run saw: answers by label, and when each non-200 came. */
export class Tally {
  readonly counts = new Map<string, number>()
  readonly failures: Array<{ at: number; replica: string; answer: Answer }> = []
  total = 0

  add(replica: Replica, a: Answer): void {
    this.total++
    const key = label(a)
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
    if (a.status !== 200) this.failures.push({ at: performance.now(), replica: replica.id, answer: a })
  }

  ok(): number {
    return this.counts.get('200') ?? 0
  }

  summary(): string {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')
  }
}

export interface LoadOptions {
  durationMs: number
  /** Request loops per replica. */
  loops: number
  /** Pause between a loop's requests. */
  pauseMs?: number
  /** Whether an answer counts (a replica killed mid-request, say): false drops it. */
  counts?: (replica: Replica, a: Answer) => boolean
  path?: (replica: Replica) => string
}

/** Request loops against the live replicas (each loop stays with its replica while it lives). */
export async function runLoad(fleet: Fleet, opts: LoadOptions, tally = new Tally()): Promise<Tally> {
  const until = Date.now() + opts.durationMs
  const loop = async (slot: number): Promise<void> => {
    while (Date.now() < until) {
      const live = fleet.live()
      const replica = live[slot % Math.max(1, live.length)]
      if (!replica) {
        await sleep(50)
        continue
      }
      const a = await ask(replica, opts.path?.(replica))
      if (opts.counts?.(replica, a) ?? true) tally.add(replica, a)
      if (opts.pauseMs) await sleep(opts.pauseMs)
    }
  }
  const count = Math.max(1, fleet.replicas.length) * opts.loops
  await Promise.all(Array.from({ length: count }, (_, i) => loop(i)))
  return tally
}
