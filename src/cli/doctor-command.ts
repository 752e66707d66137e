// The `doctor` command's argv: runs the checks and prints one line per check; exit 1 when one failed.
import { configPathOf, parse } from './argv.js'
import { EXIT } from './exit-codes.js'
import { showHelp } from './help.js'
import { out, stderrLogger } from './output.js'

export async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' }, 'oac-url': { type: 'string' } }, 'doctor')
  if (values.help) return showHelp('doctor')
  const configPath = configPathOf(values)
  const flags: Record<string, string> = {}
  if (typeof values['oac-url'] === 'string') flags.oacUrl = values['oac-url']
  const { runDoctor } = await import('./doctor.js')
  const checks = await runDoctor(
    { ...(configPath ? { configPath } : {}), flags },
    values['oac-url'] as string | undefined,
    stderrLogger('error'),
  )
  const mark = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const
  for (const c of checks) out(`[${mark[c.result]}] ${c.name}: ${c.detail}`)
  const failed = checks.filter((c) => c.result === 'fail').length
  out(failed === 0 ? 'all checks passed' : `${failed} check(s) failed`)
  return failed === 0 ? EXIT.ok : EXIT.failure
}
