// The `demo` command's argv: the simulator with a proxy in front until SIGINT or SIGTERM, or one check request with --check.
import { createLogger, wantsPretty } from '../shared/log.js'
import { intFlag, logFormatFlag, parse, PORT_RANGE, TOKEN_LIFETIME_RANGE } from './argv.js'
import { EXIT } from './exit-codes.js'
import { DEMO_DEFAULT_PORT, showHelp } from './help.js'
import { out } from './output.js'
import { waitForSignal } from './signals.js'

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      port: { type: 'string' },
      'token-lifetime': { type: 'string' },
      check: { type: 'boolean' },
      'log-format': { type: 'string' },
    },
    'demo',
  )
  if (values.help) return showHelp('demo')
  const port = intFlag(values.port, '--port', DEMO_DEFAULT_PORT, PORT_RANGE)
  const tokenLifetimeS = intFlag(values['token-lifetime'], '--token-lifetime', 100, TOKEN_LIFETIME_RANGE)
  const format = logFormatFlag(values['log-format'])
  const terminal = Boolean(process.stderr.isTTY)
  // logs go to stderr so the instructions on stdout stay readable; on a terminal only warnings unless a format is asked
  const logger = createLogger({
    level: values.check || (terminal && format === undefined) ? 'warn' : 'info',
    fd: 2,
    pretty: wantsPretty(format ?? 'auto', terminal),
  })
  // loaded here, not at start: the simulator loads only for demo and simulate
  const { startDemo, checkDemo } = await import('./demo.js')
  const running = await startDemo({
    port,
    portExplicit: values.port !== undefined,
    tokenLifetimeS,
    logger,
    out,
    check: Boolean(values.check),
    ...(terminal && format === undefined && !values.check
      ? { logNote: 'Log: warnings only on a terminal; every line with --log-format pretty (or json).' }
      : {}),
  })
  if (values.check) {
    const result = await checkDemo(running)
    out(result.line)
    await running.close()
    return result.ok ? EXIT.ok : EXIT.failure
  }
  await waitForSignal(logger)
  await running.close()
  return EXIT.ok
}
