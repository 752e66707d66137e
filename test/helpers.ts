// Test helpers: the simulator and a proxy on port 0, captured JSON logs, and a scan for leaked secrets.
import { Writable } from 'node:stream'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { Agent, request } from 'undici'
import { stringify } from 'yaml'
import type { Test } from 'tap'
import { FakeClock, type Clock } from '../src/shared/clock.js'
import { loadConfig } from '../src/config/load.js'
import {
  DEFAULT_BACKOFF_INITIAL_SECONDS,
  DEFAULT_BACKOFF_MAX_SECONDS,
  DEFAULT_CLOCK_JUMP_SECONDS,
  DEFAULT_EXPIRY_SAFETY_SECONDS,
  DEFAULT_IDP_TIMEOUT_SECONDS,
  DEFAULT_REFRESH_ANSWER_TIMEOUT_SECONDS,
  DEFAULT_DEMAND_RETRY_SECONDS,
  DEFAULT_MIN_LEAD_SECONDS,
  DEFAULT_REFRESH_AHEAD_RATIO,
  DEFAULT_REFRESH_JITTER_RATIO,
} from '../src/config/options.js'
import type { ProxyConfig, TokenSettings } from '../src/config/types.js'
import { createLogger, type Logger } from '../src/shared/log.js'
import { startProxy, type RunningProxy } from '../src/app/run.js'
import { startedSimulators, startSimulator, type Simulator, type SimulatorOptions } from '../src/simulator/index.js'
import { MemoryStore } from '../src/token/store/memory.js'
import type { TokenStore } from '../src/token/store/types.js'

/** Log lines and secrets of this test process, written out at exit for the whole-suite leak scan. */
const scanLogs: string[][] = []
const scanSecrets = new Set<string>()

/** A secret the test configured itself (a local key, a password, a private key): the logs must not hold it. */
export function registerSecret(value: string): void {
  scanSecrets.add(value)
}

process.once('exit', () => {
  const secrets = new Set(scanSecrets)
  for (const sim of startedSimulators) for (const s of secretsOf(sim)) secrets.add(s)
  const lines = scanLogs.flat()
  if (lines.length === 0 && secrets.size === 0) return
  const dir = new URL('../test-output/leak-scan/', import.meta.url).pathname
  mkdirSync(dir, { recursive: true })
  const name = `${basename(process.argv[1] ?? 'test')}-${process.pid}.json`
  writeFileSync(join(dir, name), JSON.stringify({ file: process.argv[1], lines, secrets: [...secrets] }))
})

/** Collects every log line the code under test writes, parsed. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = []
  readonly raw: string[] = []
  constructor() {
    scanLogs.push(this.raw)
  }
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue
        this.raw.push(line)
        this.lines.push(JSON.parse(line) as Record<string, unknown>)
      }
      cb()
    },
  })
  logger(level: 'trace' | 'debug' | 'info' = 'trace'): Logger {
    return createLogger({ level, destination: this.stream })
  }
  events(name: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.event === name)
  }
  text(): string {
    return this.raw.join('\n')
  }
}

/** Every secret the run handled: tokens issued by the simulator and the client secret. */
export function secretsOf(sim: Simulator, extra: string[] = []): string[] {
  return [...sim.issued.accessTokens, ...sim.issued.refreshTokens, sim.clientSecret, ...extra].filter(Boolean)
}

/** The secrets that appear anywhere in the text (should be none). */
export function leaks(text: string, secrets: string[]): string[] {
  return secrets.filter((s) => text.includes(s))
}

export interface StackOptions {
  /** Simulator options; its clock defaults to the stack clock. */
  sim?: SimulatorOptions
  /** A FakeClock shared by simulator and proxy (default: the real clock). */
  clock?: Clock
  /** A separate clock for the proxy only (to simulate skew). */
  proxyClock?: Clock
  /** Extra OAC_PROXY_* variables. */
  env?: Record<string, string>
  store?: TokenStore
  /** Do not give the proxy a refresh token. */
  noRefreshToken?: boolean
  /** Wait for the first token before returning (default true). */
  waitForToken?: boolean
  random?: () => number
  /** Runs after the simulator starts and before the proxy does (e.g. to script faults or register keys). */
  beforeProxy?: (sim: Simulator, dir: string) => void
  /** Extra config written to DIR/config.yaml (the env still gives URLs, client and scope); may be built from the simulator. */
  file?: Record<string, unknown> | ((sim: Simulator, dir: string) => Record<string, unknown>)
  /** Files to create in the stack's directory before loading the config. */
  files?: (sim: Simulator) => Record<string, string>
}

export interface Stack {
  sim: Simulator
  proxy: RunningProxy
  config: ProxyConfig
  logs: LogCapture
  url: string
  store: TokenStore
  clock: Clock | undefined
  dir: string
  get(
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string; json: () => unknown }>
  /** Secrets in this stack's logs (should be empty). */
  leakedSecrets(): string[]
}

/** Simulator + proxy on port 0, closed at the end of the test. */
export async function startStack(t: Test, options: StackOptions = {}): Promise<Stack> {
  const clock = options.clock
  const sim = await startSimulator({ ...(clock ? { clock } : {}), ...options.sim })
  t.teardown(() => sim.close())
  const dir = mkdtempSync(join(tmpdir(), 'oac-token-proxy-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const env: Record<string, string> = {
    ...simEnv(sim, dir),
    ...(options.noRefreshToken ? {} : { OAC_PROXY_REFRESH_TOKEN: sim.issueRefreshToken() }),
    ...options.env,
  }
  options.beforeProxy?.(sim, dir)
  for (const [name, text] of Object.entries(options.files?.(sim) ?? {})) {
    writeFileSync(join(dir, name), text, { mode: 0o600 })
  }
  let configPath: string | undefined
  if (options.file) {
    configPath = join(dir, 'config.yaml')
    const extra = typeof options.file === 'function' ? options.file(sim, dir) : options.file
    writeFileSync(configPath, stringify(extra), { mode: 0o600 })
  }
  const config = loadConfig({ env, cwd: dir, ...(configPath ? { configPath } : {}) })
  const logs = new LogCapture()
  const store = options.store ?? new MemoryStore()
  const proxyClock = options.proxyClock ?? clock
  const proxy = await startProxy(config, {
    logger: logs.logger(),
    store,
    ...(proxyClock ? { clock: proxyClock } : {}),
    ...(options.random ? { random: options.random } : {}),
  })
  t.teardown(() => proxy.close())
  if (options.waitForToken !== false) await proxy.manager.settled()
  const url = proxy.url
  return {
    sim,
    proxy,
    config,
    logs,
    url,
    store,
    clock,
    dir,
    async get(path, headers = {}) {
      const res = await request(url + path, { headers })
      const body = await res.body.text()
      return { status: res.statusCode, headers: res.headers, body, json: () => JSON.parse(body) }
    },
    leakedSecrets: () => leaks(logs.text(), secretsOf(sim)),
  }
}

export { FakeClock }

export const CLI = new URL('../dist/cli.js', import.meta.url).pathname

export interface SpawnedProxy {
  child: import('node:child_process').ChildProcess
  url: string
  pid: number
  lines: Array<Record<string, unknown>>
  /** Resolves with the exit code or signal. */
  exited: Promise<number | string>
}

/** Runs `oac-token-proxy serve --config FILE` as a child process and waits until it listens. */
export async function spawnProxy(
  t: Test,
  configPath: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<SpawnedProxy> {
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--config', configPath], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Array<Record<string, unknown>> = []
  const rawLines: string[] = []
  scanLogs.push(rawLines)
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    const text = d.toString()
    rawLines.push(text)
    stderr += text
  })
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal as string))),
  )
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const url = await new Promise<string>((resolve, reject) => {
    let buf = ''
    // generous: on a loaded machine (the whole suite in parallel) a Node process can take many seconds to start
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${stderr}`)), 30_000)
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        rawLines.push(line)
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          lines.push(parsed)
          if (parsed.event === 'proxy.listening') {
            clearTimeout(timer)
            resolve(parsed.url as string)
          }
        } catch {
          // not a log line
        }
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`proxy exited (${code}) before listening: ${stderr}`))
    })
  })
  return { child, url, pid: child.pid as number, lines, exited }
}

/** Writes a config for the simulator into dir, secrets in files beside it (mode 0600). */
export async function writeSimConfig(
  dir: string,
  sim: Simulator,
  extra: Record<string, unknown> = {},
): Promise<string> {
  writeFileSync(join(dir, 'client-secret'), sim.clientSecret, { mode: 0o600 })
  writeFileSync(join(dir, 'refresh-token'), sim.issueRefreshToken(), { mode: 0o600 })
  const config = {
    oacUrl: sim.oacUrl,
    idcsUrl: sim.idcsUrl,
    clientId: sim.clientId,
    clientSecret: { file: 'client-secret' },
    scope: sim.scope,
    refreshToken: { file: 'refresh-token' },
    stateFile: 'state.json',
    listen: { port: 0 },
    ...extra,
  }
  const path = join(dir, 'config.yaml')
  writeFileSync(path, stringify(config), { mode: 0o600 })
  return path
}

/** Polls `check` every 20 ms until it is true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Token settings with every documented default, in ms as the code uses them. */
export const DEFAULT_TOKEN_SETTINGS: TokenSettings = Object.freeze({
  refreshAheadRatio: DEFAULT_REFRESH_AHEAD_RATIO,
  refreshJitterRatio: DEFAULT_REFRESH_JITTER_RATIO,
  minLeadMs: DEFAULT_MIN_LEAD_SECONDS * 1000,
  expirySafetyMs: DEFAULT_EXPIRY_SAFETY_SECONDS * 1000,
  backoffInitialMs: DEFAULT_BACKOFF_INITIAL_SECONDS * 1000,
  backoffMaxMs: DEFAULT_BACKOFF_MAX_SECONDS * 1000,
  idpTimeoutMs: DEFAULT_IDP_TIMEOUT_SECONDS * 1000,
  refreshAnswerTimeoutMs: DEFAULT_REFRESH_ANSWER_TIMEOUT_SECONDS * 1000,
  demandRetryMs: DEFAULT_DEMAND_RETRY_SECONDS * 1000,
  clockJumpMs: DEFAULT_CLOCK_JUMP_SECONDS * 1000,
})

/** OAC_PROXY_* variables pointing a proxy at the simulator, listening on port 0, state in dir. */
export function simEnv(sim: Simulator, dir: string): Record<string, string> {
  return {
    OAC_PROXY_OAC_URL: sim.oacUrl,
    OAC_PROXY_IDCS_URL: sim.idcsUrl,
    OAC_PROXY_CLIENT_ID: sim.clientId,
    OAC_PROXY_CLIENT_SECRET: sim.clientSecret,
    OAC_PROXY_SCOPE: sim.scope,
    OAC_PROXY_LISTEN_PORT: '0',
    OAC_PROXY_STATE_FILE: join(dir, 'state.json'),
  }
}

/** An undici dispatcher that records the body of every request sent through it. */
export function recordingDispatcher(t: Test, sent: string[]): import('undici').Dispatcher {
  const agent = new Agent()
  t.teardown(() => agent.close())
  return agent.compose((dispatch) => (opts, handler) => {
    if (typeof opts.body === 'string') sent.push(opts.body)
    return dispatch(opts, handler)
  })
}
