// The `migrate` command's argv: moves the credentials' state from the state file into the shared store (--to redis) or back (--to file).
import { configFrom, parse } from './argv.js'
import { EXIT } from './exit-codes.js'
import { showHelp } from './help.js'
import { out, stderrLogger } from './output.js'
import { ProxyError } from '../shared/errors.js'

export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      config: { type: 'string', short: 'c' },
      credential: { type: 'string' },
      to: { type: 'string' },
      force: { type: 'boolean' },
    },
    'migrate',
  )
  if (values.help) return showHelp('migrate')
  const to = values.to
  if (to !== 'redis' && to !== 'file')
    throw new ProxyError(
      'usage',
      to === undefined ? 'migrate needs --to redis or --to file' : `--to must be redis or file, got '${String(to)}'`,
      { hint: 'oac-token-proxy migrate --to redis (state file into the shared store) or --to file (back)' },
    )
  const config = configFrom(values)
  const { credentialByName } = await import('./login.js')
  const credentials =
    values.credential === undefined ? config.credentials : [credentialByName(config, values.credential as string)]
  const { migrate } = await import('./migrate.js')
  const outcomes = await migrate(config, {
    to,
    credentials,
    force: Boolean(values.force),
    logger: stderrLogger('warn', config.log.format),
  })
  const from = to === 'redis' ? `the state file ${config.stateFile}` : 'the shared store'
  const into = to === 'redis' ? 'the shared store' : `the state file ${config.stateFile} (mode 0600)`
  for (const o of outcomes) {
    if (o.result === 'nothing') out(`credential ${o.credential}: nothing to migrate (${from} holds no token for it)`)
    else if (o.result === 'unchanged')
      out(`credential ${o.credential}: already in ${into} (same refresh token, store version ${o.version})`)
    else out(`credential ${o.credential}: copied from ${from} into ${into} (store version ${o.version})`)
  }
  if (outcomes.some((o) => o.result === 'migrated'))
    out(
      to === 'redis'
        ? `Replicas on the store adopt it. ${config.stateFile} is kept as it was: once the fleet refreshes, its refresh token is outdated, so do not serve from it again without migrate --to file.`
        : 'The store keeps its copy: stop the replicas (or remove the store section) before serving from the file, or the fleet rotates the refresh token and the file goes out of date.',
    )
  return EXIT.ok
}
