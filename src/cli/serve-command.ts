// The `serve` command: argv and config flags -> a running proxy until SIGINT or SIGTERM.
import type { ParseArgsConfig } from 'node:util'
import { startProxy } from '../app/run.js'
import { loadConfig } from '../config/load.js'
import { createLogger, wantsPretty } from '../shared/log.js'
import { configPathOf, FLAG_OPTIONS, parse } from './argv.js'
import { EXIT } from './exit-codes.js'
import { showHelp } from './help.js'
import { waitForSignal } from './signals.js'

export async function serveCommand(args: string[]): Promise<number> {
  const options: ParseArgsConfig['options'] = { config: { type: 'string', short: 'c' } }
  for (const o of FLAG_OPTIONS) options[o.flag as string] = { type: 'string' }
  const { values } = parse(args, options, 'serve')
  if (values.help) return showHelp('serve')
  const flags: Record<string, string> = {}
  for (const o of FLAG_OPTIONS) {
    const v = values[o.flag as string]
    if (typeof v === 'string') flags[o.path] = v
  }
  const configPath = configPathOf(values)
  const config = loadConfig({ ...(configPath ? { configPath } : {}), flags })
  const logger = createLogger({ level: config.log.level, pretty: wantsPretty(config.log.format) })
  const proxy = await startProxy(config, { logger })
  await waitForSignal(logger)
  await proxy.close()
  logger.flush()
  return EXIT.ok
}
