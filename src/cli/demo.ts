// The `demo` command: the built-in IDCS + OAC simulator with a proxy in front, ready for curl.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from '../net/undici.js'
import { loadConfig } from '../config/load.js'
import type { Logger } from '../shared/log.js'
import { startProxy, type RunningProxy } from '../app/run.js'
import { DEFAULT_USER, DEFAULT_USER_PASSWORD } from '../simulator/constants.js'
import { startSimulator, type Simulator } from '../simulator/index.js'

export const DEMO_DEFAULT_PORT = 8787

export interface DemoOptions {
  port: number
  /** The port was asked for (--port): if busy, that is an error rather than another port. */
  portExplicit?: boolean
  tokenLifetimeS: number
  logger: Logger
  out: (line: string) => void
  /** One request and exit: no "Press Ctrl-C" line. */
  check?: boolean
  /** A line about where the log goes, printed under the commands. */
  logNote?: string
}

/** The user name and password the simulated identity domain's sign-in page accepts. */
export function signInLine(sim: Pick<Simulator, 'user'>): string {
  return sim.user === DEFAULT_USER ? `user ${DEFAULT_USER}, password ${DEFAULT_USER_PASSWORD}` : `user ${sim.user}`
}

export interface RunningDemo {
  proxy: RunningProxy
  simulator: Simulator
  close(): Promise<void>
}

export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const simulator = await startSimulator({ accessTokenLifetimeS: options.tokenLifetimeS })
  const dir = mkdtempSync(join(tmpdir(), 'oac-token-proxy-demo-'))
  const env: NodeJS.ProcessEnv = {
    OAC_PROXY_OAC_URL: simulator.oacUrl,
    OAC_PROXY_IDCS_URL: simulator.idcsUrl,
    OAC_PROXY_CLIENT_ID: simulator.clientId,
    OAC_PROXY_CLIENT_SECRET: simulator.clientSecret,
    OAC_PROXY_SCOPE: simulator.scope,
    OAC_PROXY_REFRESH_TOKEN: simulator.issueRefreshToken(),
    OAC_PROXY_STATE_FILE: join(dir, 'state.json'),
    OAC_PROXY_LISTEN_PORT: String(options.port),
  }
  let proxy: RunningProxy
  try {
    const config = loadConfig({ env, cwd: dir })
    try {
      proxy = await startProxy(config, { logger: options.logger })
    } catch (err) {
      // only the default port gives way; a port the user named that is busy is an error
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.port === 0 || options.portExplicit) throw err
      options.out(`port ${options.port} is busy; using a free port instead`)
      proxy = await startProxy(loadConfig({ env: { ...env, OAC_PROXY_LISTEN_PORT: '0' }, cwd: dir }), {
        logger: options.logger,
      })
    }
  } catch (err) {
    await simulator.close()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  await proxy.manager.settled()
  const u = proxy.url
  options.out(
    [
      '',
      'oac-token-proxy demo: a simulated IDCS + OAC, and the proxy in front of them.',
      '',
      `  proxy     ${u}`,
      `  OAC       ${simulator.oacUrl}  (simulated; needs a bearer token)`,
      `  IDCS      ${simulator.idcsUrl}  (simulated; access tokens live ${options.tokenLifetimeS} s, refresh tokens rotate)`,
      '',
      'Try it; no Authorization header needed, the proxy adds a fresh token:',
      '',
      `  curl -s ${u}/api/20210901/snapshots`,
      `  curl -s -X POST ${u}/api/20210901/snapshots -H 'content-type: application/json' -d '{"type":"CREATE","name":"demo","password":"Demo-1234"}'`,
      `  curl -s ${u}/-/status`,
      '',
      `Straight to the simulated OAC, without the proxy, the same call is refused (401):`,
      '',
      `  curl -si ${simulator.oacUrl}/api/20210901/snapshots`,
      '',
      `The status page: ${proxy.adminUrl}/-/`,
      `The simulated sign-in page (oac-token-proxy login against a simulator) accepts ${signInLine(simulator)}.`,
      '',
      ...(options.logNote ? [options.logNote] : []),
      ...(options.check ? [] : ['Press Ctrl-C to stop.', '']),
    ].join('\n'),
  )
  return {
    proxy,
    simulator,
    async close() {
      await proxy.close()
      await simulator.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** One request through the proxy: what `demo --check` prints. */
export async function checkDemo(demo: RunningDemo): Promise<{ ok: boolean; line: string }> {
  const res = await request(`${demo.proxy.url}/api/20210901/snapshots`)
  const body = await res.body.text()
  const ok = res.statusCode === 200
  return {
    ok,
    line: `GET /api/20210901/snapshots through the proxy: ${res.statusCode} ${ok ? body.slice(0, 200) : ''}`.trim(),
  }
}
