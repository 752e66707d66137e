// Command-line entry: argv -> command. The only place that calls process.exit (the installed command, dist/cli.js, runs this).
import { ERROR_CODES, OAuthError, ProxyError } from '../shared/errors.js'
import { demoCommand } from './demo-command.js'
import { doctorCommand } from './doctor-command.js'
import { EXIT, exitCodeFor } from './exit-codes.js'
import { helpCommand, mainHelp, unknownCommand, versionCommand } from './help.js'
import { importCommand, loginCommand } from './login-command.js'
import { serveCommand } from './serve-command.js'
import { Interrupted } from './signals.js'
import { simulateCommand } from './simulate-command.js'
import { statusCommand } from './status-command.js'
import { tokenCommand } from './token-command.js'

async function main(argv: string[]): Promise<number> {
  const first = argv[0]
  if (first === '--version' || first === '-v') return versionCommand([])
  if (first === undefined || first === '--help' || first === '-h') return mainHelp(first === undefined)
  if (first === 'help') return helpCommand(argv.slice(1))
  if (first === 'version') return versionCommand(argv.slice(1))
  // an option first means serve: oac-token-proxy --config FILE is oac-token-proxy serve --config FILE
  const command = first.startsWith('-') ? 'serve' : first
  const rest = first.startsWith('-') ? argv : argv.slice(1)
  switch (command) {
    case 'serve':
      return serveCommand(rest)
    case 'login':
      return loginCommand(rest)
    case 'import':
      return importCommand(rest)
    case 'token':
      return tokenCommand(rest)
    case 'status':
      return statusCommand(rest)
    case 'doctor':
      return doctorCommand(rest)
    case 'demo':
      return demoCommand(rest)
    case 'simulate':
      return simulateCommand(rest)
    default:
      throw unknownCommand(command)
  }
}

let settled = false
// safety net: if nothing keeps the event loop alive while a command is unfinished, that is a bug, not success
process.once('beforeExit', () => {
  if (!settled) {
    process.stderr.write('oac-token-proxy: internal_error: the command stopped before finishing\n')
    process.exitCode = EXIT.failure
  }
})

main(process.argv.slice(2)).then(
  (code) => {
    settled = true
    process.exitCode = code
  },
  (err: unknown) => {
    settled = true
    // stopped by a signal (the command said why and released what it held): exit now, whatever is still pending
    if (err instanceof Interrupted) process.exit(err.exitCode)
    if (err instanceof ProxyError && err.code in ERROR_CODES) {
      process.stderr.write(`oac-token-proxy: ${err.code}: ${err.message}\n`)
      if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`)
      // an OAuth error no retry can fix (invalid_client, invalid_scope...) needs a human, like login_required
      process.exit(err instanceof OAuthError && err.isTerminal ? EXIT.login : exitCodeFor(err.code))
    }
    const e = err as NodeJS.ErrnoException
    if (e?.code === 'EADDRINUSE' || e?.code === 'EACCES') {
      process.stderr.write(`oac-token-proxy: cannot listen: ${e.message}\n  hint: choose another --port or --host.\n`)
      process.exit(EXIT.failure)
    }
    process.stderr.write(`oac-token-proxy: unexpected error: ${e?.stack ?? String(err)}\n`)
    process.exit(EXIT.failure)
  },
)
