// The `status` command's argv: each credential's state, as lines or JSON; the exit code tells the most serious one.
import { configFrom, parse } from './argv.js'
import { showHelp } from './help.js'
import { out } from './output.js'

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { config: { type: 'string', short: 'c' }, credential: { type: 'string' }, json: { type: 'boolean' } },
    'status',
  )
  if (values.help) return showHelp('status')
  const config = configFrom(values)
  const { collectStatus, renderStatus, statusExitCode } = await import('./status.js')
  const report = await collectStatus(config, values.credential as string | undefined)
  if (values.json) out(JSON.stringify(report, null, 2))
  else for (const line of renderStatus(report, config)) out(line)
  return statusExitCode(report)
}
