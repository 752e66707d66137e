// The `simulate` command: only the simulated IDCS + OAC until SIGINT or SIGTERM, optionally writing a config for it.
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { writeFileAtomic } from '../shared/atomic-file.js'
import type { Simulator } from '../simulator/index.js'
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

/**
 * DIR/config.yaml for the simulator, the client secret and a refresh token in files beside it (mode 0600).
 * Each is a new file renamed into place: a file or symlink already at that name is replaced, never written through.
 */
async function writeSimulatorConfig(sim: Simulator, dir: string): Promise<void> {
  const created = !existsSync(dir) || readdirSync(dir).length === 0
  mkdirSync(dir, { recursive: true })
  // the folder holds a client secret and a refresh token: keep it out of git unless its owner decides otherwise
  if (created)
    await writeFileAtomic(join(dir, '.gitignore'), '# written by oac-token-proxy simulate: secrets\n*\n', 0o644)
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
      'stateFile: oac-token-proxy.state.json',
      '',
    ].join('\n'),
    0o600,
  )
  out(`config written: ${join(dir, 'config.yaml')}  (secrets in files beside it, mode 0600)`)
  if (!created) {
    out(
      `${dir} already held files, so no .gitignore was written there: keep client-secret, refresh-token and the state file out of version control`,
    )
  }
}
