// The `simulate` command: only the simulated IDCS + OAC until SIGINT or SIGTERM, optionally writing a config for it.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { writeFileAtomic } from '../shared/atomic-file.js'
import type { Simulator } from '../simulator/index.js'
import { liveLock } from '../token/store/lock.js'
import { intFlag, parse, PORT_RANGE, TOKEN_LIFETIME_RANGE } from './argv.js'
import { EXIT } from './exit-codes.js'
import { showHelp } from './help.js'
import { out, stderrLogger } from './output.js'
import { waitForSignal } from './signals.js'

export async function simulateCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      'idcs-port': { type: 'string' },
      'oac-port': { type: 'string' },
      'token-lifetime': { type: 'string' },
      'write-config': { type: 'string' },
    },
    'simulate',
  )
  if (values.help) return showHelp('simulate')
  // loaded here, not at start: the simulator loads only for demo and simulate
  const { startSimulator } = await import('../simulator/index.js')
  const sim = await startSimulator({
    idcsPort: intFlag(values['idcs-port'], '--idcs-port', 0, PORT_RANGE),
    oacPort: intFlag(values['oac-port'], '--oac-port', 0, PORT_RANGE),
    accessTokenLifetimeS: intFlag(values['token-lifetime'], '--token-lifetime', 100, TOKEN_LIFETIME_RANGE),
  })
  const { signInLine } = await import('./demo.js')
  out(`simulated IDCS: ${sim.idcsUrl}`)
  out(`simulated OAC:  ${sim.oacUrl}`)
  out(`client id:      ${sim.clientId}`)
  out(`scope:          ${sim.scope}`)
  out(`sign-in page:   ${signInLine(sim)}`)
  if (typeof values['write-config'] === 'string') await writeSimulatorConfig(sim, resolve(values['write-config']))
  else out('client secret and refresh token: use --write-config DIR to get them as files')
  const logger = stderrLogger('warn')
  await waitForSignal(logger)
  await sim.close()
  return EXIT.ok
}

const STATE_FILE = 'oac-token-proxy.state.json'
const GITIGNORE_HEADER = '# written by oac-token-proxy simulate: secrets'

/**
 * DIR/config.yaml for the simulator, the client secret and a refresh token in files beside it (mode 0600).
 * Each is a new file renamed into place: a file or symlink already at that name is replaced, never written through.
 */
async function writeSimulatorConfig(sim: Simulator, dir: string): Promise<void> {
  const created = !existsSync(dir) || readdirSync(dir).length === 0
  mkdirSync(dir, { recursive: true })
  // the folder holds a client secret and a refresh token: keep it out of git unless its owner decides otherwise
  if (created) await writeFileAtomic(join(dir, '.gitignore'), `${GITIGNORE_HEADER}\n*\n`, 0o644)
  const ignored = created || readText(join(dir, '.gitignore'))?.startsWith(GITIGNORE_HEADER) === true
  await writeFileAtomic(join(dir, 'client-secret'), sim.clientSecret + '\n', 0o600)
  await writeFileAtomic(join(dir, 'refresh-token'), sim.issueRefreshToken() + '\n', 0o600)
  await writeFileAtomic(
    join(dir, 'config.yaml'),
    [
      '# written by oac-token-proxy simulate',
      `oacUrl: ${sim.oacUrl}`,
      `idcsUrl: ${sim.idcsUrl}`,
      `clientId: ${sim.clientId}`,
      'clientSecret: { file: client-secret }',
      `scope: "${sim.scope}"`,
      'refreshToken: { file: refresh-token }',
      `stateFile: ${STATE_FILE}`,
      '',
    ].join('\n'),
    0o600,
  )
  out(`config written: ${join(dir, 'config.yaml')}  (secrets in files beside it, mode 0600)`)
  clearEarlierSimulatorState(join(dir, STATE_FILE), sim)
  if (!ignored) {
    out(
      `${dir} already held files, so no .gitignore was written there: keep client-secret, refresh-token and the state file out of version control`,
    )
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * A state file left in DIR by an earlier simulator would make login and serve refuse the new config
 * (state_mismatch: another identity domain URL, as each run has its own port). Its tokens ended with that
 * simulator, so it is removed; a state file that may hold anything else, or one in use, is left and named.
 */
function clearEarlierSimulatorState(path: string, sim: Simulator): void {
  if (!existsSync(path)) return
  if (liveLock(path)) {
    out(
      `${path} is in use (a proxy or a login holds its lock) and was written for an earlier simulator: stop that process and run simulate again, or write the config into another folder`,
    )
    return
  }
  const entries = lstatSync(path).isFile() ? Object.values(parseState(path)?.credentials ?? {}) : []
  const fromSimulators =
    entries.length > 0 &&
    entries.every((e) => e.identity?.clientId === sim.clientId && isLoopbackHttp(e.identity.idcsUrl))
  if (fromSimulators) {
    rmSync(path)
    rmSync(`${path}.lock`, { force: true }) // a lock its process left behind
    out(`removed ${path}: it held a sign-in to an earlier simulator, whose tokens ended with it`)
  } else {
    out(
      `${path} was already there and may hold a sign-in elsewhere, so it is kept; login and serve refuse it for this simulator (state_mismatch): move it away, or write the config into another folder`,
    )
  }
}

function parseState(
  path: string,
): { credentials?: Record<string, { identity?: { idcsUrl: string; clientId: string } }> } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ReturnType<typeof parseState>
  } catch {
    return undefined
  }
}

function isLoopbackHttp(url: string): boolean {
  try {
    const u = new URL(url)
    return u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === 'localhost')
  } catch {
    return false
  }
}
