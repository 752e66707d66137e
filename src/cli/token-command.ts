// The `token` command's argv: prints a valid access token (bare, or as JSON with its expiry and source).
import { DEFAULT_CREDENTIAL } from '../config/options.js'
import { configFrom, parse } from './argv.js'
import { EXIT } from './exit-codes.js'
import { showHelp } from './help.js'
import { out, stderrLogger } from './output.js'

export async function tokenCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { config: { type: 'string', short: 'c' }, credential: { type: 'string' }, json: { type: 'boolean' } },
    'token',
  )
  if (values.help) return showHelp('token')
  const config = configFrom(values)
  const { getToken } = await import('./token.js')
  const result = await getToken(
    config,
    (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL,
    // a failure is printed once, as the one human error below, not also as log lines
    stderrLogger('silent'),
    { reuseSaved: true },
  )
  out(
    values.json
      ? JSON.stringify({
          accessToken: result.accessToken,
          expiresAt: new Date(result.expiresAtMs).toISOString(),
          source: result.source,
        })
      : result.accessToken,
  )
  return EXIT.ok
}
