// Test helper: a real redis-server (and redis-sentinel) on a free loopback port in a temp dir, no persistence, stopped in teardown.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'

const HOST = '127.0.0.1'

/** Why redis tests cannot run here, or undefined when redis-server is installed. */
export function redisMissing(binary = 'redis-server'): string | undefined {
  const r = spawnSync(binary, ['--version'], { stdio: 'ignore' })
  return r.error || r.status !== 0
    ? `${binary} is not installed (apt-get install redis-server redis-sentinel): skipped`
    : undefined
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, HOST, () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export interface RedisServerOptions {
  /** `requirepass` for the default user. */
  password?: string
  /** ACL users: `name`, `password`, and rules (default: all keys, channels and commands). */
  users?: Array<{ name: string; password: string; rules?: string }>
  /** Turns the default user off (only the ACL users can log in). */
  noDefaultUser?: boolean
  /** Serve TLS only, with this certificate and key (PEM files). */
  tls?: { certPath: string; keyPath: string }
  /** Extra redis.conf lines. */
  conf?: string[]
  port?: number
}

export interface RedisServer {
  readonly port: number
  readonly host: string
  /** redis:// or rediss:// URL without credentials. */
  readonly url: string
  readonly dir: string
  /** Stops the server (its data is gone: no persistence). */
  stop(): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
  /** Runs one command with redis-cli (plain connections only; as the first ACL user when the default one is off). */
  cli(...args: string[]): string
}

/** Starts redis-server; it is stopped and its directory removed in t's teardown. */
export async function startRedis(t: Test, options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'oac-redis-'))
  const lines = [
    `bind ${HOST}`,
    `dir ${dir}`,
    'save ""',
    'appendonly no',
    'protected-mode no',
    'daemonize no',
    'loglevel warning',
    `logfile ${join(dir, 'redis.log')}`,
    ...(options.tls
      ? [
          'port 0',
          `tls-port ${port}`,
          `tls-cert-file ${options.tls.certPath}`,
          `tls-key-file ${options.tls.keyPath}`,
          `tls-ca-cert-file ${options.tls.certPath}`,
          'tls-auth-clients no',
        ]
      : [`port ${port}`]),
    ...(options.password !== undefined ? [`requirepass ${options.password}`] : []),
    ...(options.users ?? []).map((u) => `user ${u.name} on >${u.password} ${u.rules ?? '~* &* +@all'}`),
    ...(options.noDefaultUser ? ['user default off'] : []),
    ...(options.conf ?? []),
  ]
  const confPath = join(dir, 'redis.conf')
  writeFileSync(confPath, lines.join('\n') + '\n')
  const server = new ManagedProcess('redis-server', [confPath], port)
  await server.start()
  t.teardown(async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const admin = options.noDefaultUser ? options.users?.[0] : undefined
  const auth =
    options.password !== undefined
      ? ['-a', options.password, '--no-auth-warning']
      : admin
        ? ['--user', admin.name, '--pass', admin.password, '--no-auth-warning']
        : []
  return {
    port,
    host: HOST,
    url: `${options.tls ? 'rediss' : 'redis'}://${HOST}:${port}`,
    dir,
    stop: () => server.stop(),
    start: () => server.start(),
    cli: (...args) => {
      const r = spawnSync('redis-cli', ['-h', HOST, '-p', String(port), ...auth, ...args], { encoding: 'utf8' })
      return (r.stdout ?? '').trim()
    },
  }
}

export interface SentinelSet {
  master: RedisServer
  replica: RedisServer
  sentinelPort: number
  masterName: string
  /** Asks the sentinel to fail over and resolves once it reports the replica as the master. */
  failover(): Promise<void>
  /** The master's port the sentinel reports now. */
  masterPort(): number
}

/**
 * A master, one replica and one sentinel watching them (quorum 1, fast failure detection), with
 * min-replicas-to-write 1 as docs/redis-store.md recommends for Sentinel.
 */
export async function startSentinelSet(
  t: Test,
  options: { masterName?: string; sentinelPassword?: string } = {},
): Promise<SentinelSet> {
  const masterName = options.masterName ?? 'oacmaster'
  // a master that lost its replica (promoted behind its back) refuses writes instead of losing them later
  const safety = ['min-replicas-to-write 1', 'min-replicas-max-lag 10']
  const master = await startRedis(t, { conf: safety })
  const replica = await startRedis(t, { conf: [...safety, `replicaof ${HOST} ${master.port}`] })
  const sentinelPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'oac-sentinel-'))
  const confPath = join(dir, 'sentinel.conf')
  writeFileSync(
    confPath,
    [
      `port ${sentinelPort}`,
      `bind ${HOST}`,
      `dir ${dir}`,
      'daemonize no',
      'protected-mode no',
      `logfile ${join(dir, 'sentinel.log')}`,
      `sentinel monitor ${masterName} ${HOST} ${master.port} 1`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      `sentinel parallel-syncs ${masterName} 1`,
      ...(options.sentinelPassword !== undefined ? [`requirepass ${options.sentinelPassword}`] : []),
    ].join('\n') + '\n',
  )
  const sentinel = new ManagedProcess('redis-sentinel', [confPath], sentinelPort)
  await sentinel.start()
  t.teardown(async () => {
    await sentinel.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const sentinelAuth =
    options.sentinelPassword !== undefined ? ['-a', options.sentinelPassword, '--no-auth-warning'] : []
  const ask = (...args: string[]): string =>
    (
      spawnSync('redis-cli', ['-h', HOST, '-p', String(sentinelPort), ...sentinelAuth, ...args], { encoding: 'utf8' })
        .stdout ?? ''
    ).trim()
  const masterPort = (): number => Number(ask('SENTINEL', 'get-master-addr-by-name', masterName).split('\n')[1])
  // the sentinel must have seen the replica before it can promote it
  await until(
    () => ask('SENTINEL', 'replicas', masterName).includes(String(replica.port)),
    15_000,
    'sentinel sees replica',
  )
  await until(() => replica.cli('INFO', 'replication').includes('master_link_status:up'), 15_000, 'replica in sync')
  return {
    master,
    replica,
    sentinelPort,
    masterName,
    masterPort,
    failover: async () => {
      const before = masterPort()
      ask('SENTINEL', 'FAILOVER', masterName)
      await until(() => masterPort() !== before, 20_000, 'sentinel failover')
    },
  }
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** One server process: started, stopped and restarted on the same port. */
class ManagedProcess {
  private child: ChildProcess | undefined
  constructor(
    private readonly binary: string,
    private readonly args: string[],
    private readonly port: number,
  ) {}

  async start(): Promise<void> {
    if (this.child) return
    const child = spawn(this.binary, this.args, { stdio: 'ignore' })
    this.child = child
    child.once('exit', () => {
      if (this.child === child) this.child = undefined
    })
    const deadline = Date.now() + 10_000
    while (!(await accepts(this.port))) {
      if (!this.child) throw new Error(`${this.binary} exited at start (port ${this.port})`)
      if (Date.now() > deadline) throw new Error(`${this.binary} did not listen on ${this.port}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  async stop(): Promise<void> {
    const child = this.child
    if (!child) return
    this.child = undefined
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      child.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      child.kill('SIGTERM')
    })
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: HOST, port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
