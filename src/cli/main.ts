// Command-line entry: argv -> command. The only place that calls process.exit (the installed command, dist/cli.js, runs this).
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { loadConfig } from '../config/load.js'
import { DEFAULT_CREDENTIAL, OPTIONS, type OptionSpec } from '../config/options.js'
import type { ProxyConfig } from '../config/types.js'
import { ERROR_CODES, OAuthError, ProxyError } from '../shared/errors.js'
import { createLogger, wantsPretty, type Logger } from '../shared/log.js'

type LogFormat = ProxyConfig['log']['format']
import { startProxy } from '../app/run.js'
import { VERSION } from '../shared/version.js'
import { EXIT, exitCodeFor } from './exit-codes.js'

/** Mirrors DEMO_DEFAULT_PORT in demo.ts (not imported: the simulator loads only for demo/simulate). */
const DEMO_DEFAULT_PORT = 8787

const FLAG_OPTIONS = OPTIONS.filter((o) => o.flag)

const COMMANDS = ['serve', 'login', 'token', 'status', 'doctor', 'import', 'demo', 'simulate', 'version', 'help']

/** The placeholder shown after a flag in help: --oac-url URL, --port N, --log-format auto|json|pretty. */
function valueName(o: OptionSpec): string {
  if (o.type === 'url') return 'URL'
  if (o.type === 'integer' || o.type === 'number') return 'N'
  if (o.type === 'enum' && o.enum && o.enum.length <= 3) return o.enum.join('|')
  return (o.flag as string).split('-').at(-1)?.toUpperCase() ?? 'VALUE'
}

function flagHelp(o: OptionSpec): string {
  const left = `      --${o.flag as string} ${valueName(o)}`
  const dflt = o.default === undefined || o.default === '' ? '' : ` (default ${String(o.default)})`
  return `${left.padEnd(40)}${o.path}${dflt}`
}

const HELP: Record<string, string> = {
  main: `oac-token-proxy ${VERSION}: a local proxy that adds fresh OAC access tokens to every request.

Usage: oac-token-proxy <command> [options]

With no arguments this help is printed (exit 2). When the first argument is an option, serve runs:
oac-token-proxy --config FILE is oac-token-proxy serve --config FILE.

Commands:
  serve      run the proxy
  login      sign in (device code, or --browser) and save the refresh token in the state file
  token      print a valid access token (asks the running proxy, if any)
  status     who is signed in, scopes, when the access and refresh tokens expire
  doctor     check the configuration, the identity domain, the scope, the grant and OAC
  import     import a tokens.json (OAC profile) or tokens.tok (IDCS console) into the state file
  demo       run the built-in IDCS + OAC simulator with the proxy in front, and print curl commands
  simulate   run only the simulator (for trying a config against it)
  version    print the version
  help CMD   help for one command

Options: --help, --version

Environment: every config key has an OAC_PROXY_* variable (docs/configuration.md).`,
  serve: `Usage: oac-token-proxy serve [--config FILE] [options]

Runs the proxy. Configuration comes from FILE (or OAC_PROXY_CONFIG), then OAC_PROXY_* environment
variables, then these flags:
${'  -c, --config FILE'.padEnd(40)}YAML config file (or OAC_PROXY_CONFIG)
${FLAG_OPTIONS.map(flagHelp).join('\n')}
Each flag sets the config key after it (docs/configuration.md).`,
  login: `Usage: oac-token-proxy login [--config FILE] [--credential NAME] [--browser | --device] [--redirect-port N] [--no-open]

Signs in and saves the refresh token in the state file (mode 0600), so that serve starts with it.
Asks for the scope plus offline_access.
  --device             show a code to enter at a URL on any device (default; works without a terminal)
  --browser            authorization code with PKCE: opens a browser, redirect to http://127.0.0.1:PORT
  --redirect-port N    port of the loopback redirect (login.redirectPort; 0 = any free port)
  --no-open            print the URL instead of opening a browser
  --credential NAME    which credential (default: the top-level one)
Stop a running proxy on the same state file first (its state file is locked).`,
  token: `Usage: oac-token-proxy token [--config FILE] [--credential NAME] [--json]

Prints a valid access token, e.g.  curl -H "Authorization: Bearer $(oac-token-proxy token)" ...
When a proxy runs on the same state file it asks that proxy (through its admin endpoint, with the key
from the state lock file) instead of refreshing, so the rotating refresh token is never burned.
Without a proxy it reuses the access token it saved in the state file (mode 0600) by an earlier call
while that has at least 30 s (or half its lifetime) left, and refreshes only when it is near expiry.
  --json    print {"accessToken","expiresAt","source"} (source: proxy, saved or refresh) instead of the bare token`,
  status: `Usage: oac-token-proxy status [--config FILE] [--credential NAME] [--json]

Shows each credential: health, who is signed in, the token's scope and the configured one, when the
access token expires, how old the refresh token is, the last refresh and error. Asks the running proxy,
or reads the state file.
  --credential NAME    only this credential
  --json               the same as JSON
Exit code (the most serious state shown): 0 every credential holds a valid token, 4 login_required,
5 credential_rejected, 6 not ready (starting or failing), 7 no proxy running on the state file.`,
  doctor: `Usage: oac-token-proxy doctor [--config FILE] [--oac-url URL]

Checks, step by step: the configuration; OAC's sign-in redirect (discovering the identity domain and
the OAC app's audience from idcs_app_name, so --oac-url alone is enough to start); the identity
domain; the scope's shape; that each credential's grant yields a token; that OAC accepts it.
Exit code 0 when every check passes, 1 otherwise.`,
  import: `Usage: oac-token-proxy import FILE [--config FILE] [--credential NAME]

Imports console-issued tokens into the state file:
  tokens.json   downloaded from the OAC profile page: its refresh token is stored
  tokens.tok    downloaded from the IDCS console: its access token is used until it expires`,
  demo: `Usage: oac-token-proxy demo [--port N] [--token-lifetime SECONDS] [--check] [--log-format FORMAT]

Starts a simulated IDCS + OAC and the proxy in front of them, then prints curl commands to try.
  --port N                 proxy port (default ${DEMO_DEFAULT_PORT}, or a free one if that is busy;
                           a port given here that is busy is an error; 0 = any free port)
  --token-lifetime S       access-token lifetime in seconds, 10 to 86400 (default 100, as OAC)
  --check                  make one request through the proxy, print the result and exit
  --log-format FORMAT      auto, json or pretty. Logs go to stderr: JSON when it is not a terminal;
                           on a terminal only warnings, unless a format is given`,
  version: `Usage: oac-token-proxy version

Prints the version (the same as oac-token-proxy --version).`,
  simulate: `Usage: oac-token-proxy simulate [--idcs-port N] [--oac-port N] [--token-lifetime S] [--write-config DIR]

Runs only the simulated IDCS + OAC, and prints the user name and password its sign-in page accepts.
  --token-lifetime S   access-token lifetime in seconds, 10 to 86400 (default 100)
  --write-config DIR   write DIR/config.yaml with the client secret and a refresh token in files
                       beside it (mode 0600), ready for: oac-token-proxy serve --config DIR/config.yaml`,
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0]
  if (first === '--version' || first === '-v') {
    out(VERSION)
    return EXIT.ok
  }
  if (first === undefined || first === '--help' || first === '-h') {
    out(HELP.main as string)
    return first === undefined ? EXIT.usage : EXIT.ok
  }
  if (first === 'help') {
    const topic = argv[1] ?? 'main'
    if (argv.length > 2 || !(topic in HELP)) throw unknownCommand(argv.slice(1).join(' '))
    out(HELP[topic] as string)
    return EXIT.ok
  }
  if (first === 'version') {
    if (argv.length > 1 && !['--help', '-h'].includes(argv[1] as string))
      throw new ProxyError('usage', `version takes no arguments, got '${argv.slice(1).join(' ')}'`)
    out(argv.length > 1 ? (HELP.version as string) : VERSION)
    return EXIT.ok
  }
  const command = first.startsWith('-') ? 'serve' : first
  const rest = first.startsWith('-') ? argv : argv.slice(1)
  switch (command) {
    case 'serve':
      return serve(rest)
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
      return demo(rest)
    case 'simulate':
      return simulate(rest)
    default:
      throw unknownCommand(command)
  }
}

function unknownCommand(command: string): ProxyError {
  return new ProxyError('usage', `unknown command '${command}'`, {
    hint: `Commands: ${COMMANDS.join(', ')}. Run oac-token-proxy --help.`,
  })
}

type Values = Record<string, string | boolean | undefined>

function parse(args: string[], options: ParseArgsConfig['options'], command: string): { values: Values } {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }) as { values: Values }
  } catch (err) {
    throw new ProxyError('usage', (err as Error).message, { hint: `Run oac-token-proxy help ${command}.` })
  }
}

async function serve(args: string[]): Promise<number> {
  const options: ParseArgsConfig['options'] = { config: { type: 'string', short: 'c' } }
  for (const o of FLAG_OPTIONS) options[o.flag as string] = { type: 'string' }
  const { values } = parse(args, options, 'serve')
  if (values.help) return help('serve')
  const flags: Record<string, string> = {}
  for (const o of FLAG_OPTIONS) {
    const v = values[o.flag as string]
    if (typeof v === 'string') flags[o.path] = v
  }
  const configPath = (values.config as string | undefined) ?? process.env.OAC_PROXY_CONFIG
  const config = loadConfig({ ...(configPath ? { configPath } : {}), flags })
  const logger = createLogger({ level: config.log.level, pretty: wantsPretty(config.log.format) })
  const proxy = await startProxy(config, { logger })
  await waitForSignal(logger)
  await proxy.close()
  logger.flush()
  return EXIT.ok
}

function configFrom(values: Values): ProxyConfig {
  const configPath = (values.config as string | undefined) ?? process.env.OAC_PROXY_CONFIG
  return loadConfig({ ...(configPath ? { configPath } : {}) })
}

async function loginCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      config: { type: 'string', short: 'c' },
      credential: { type: 'string' },
      browser: { type: 'boolean' },
      device: { type: 'boolean' },
      'redirect-port': { type: 'string' },
      'no-open': { type: 'boolean' },
    },
    'login',
  )
  if (values.help) return help('login')
  if (values.browser && values.device) throw new ProxyError('usage', 'give --browser or --device, not both')
  const loaded = configFrom(values)
  const config: ProxyConfig = {
    ...loaded,
    login: {
      ...loaded.login,
      ...(values['redirect-port'] === undefined
        ? {}
        : { redirectPort: intFlag(values['redirect-port'], '--redirect-port', 0, PORT_RANGE) }),
      ...(values['no-open'] ? { openBrowser: false } : {}),
    },
  }
  const method = values.browser ? 'browser' : values.device ? 'device' : config.login.method
  const interactive = Boolean(process.stdout.isTTY)
  // on a terminal the screen (code, QR, countdown) says it all: only warnings, as human lines
  const logger = stderrLogger(interactive ? 'warn' : config.log.level, config.log.format)
  const { FileStore } = await import('../token/store/file.js')
  const { login, credentialByName } = await import('./login.js')
  const { claimCredential } = await import('../app/managers.js')
  const credential = credentialByName(config, (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL)
  const store = FileStore.open(config.stateFile)
  const { logStoreOpened } = await import('../app/run.js')
  logStoreOpened(store, logger)
  // Ctrl-C while waiting for the sign-in: say so, and release the lock on the way out
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(
      `\noac-token-proxy: login cancelled (${signal === 'SIGINT' ? 'Ctrl-C' : signal}) before the sign-in completed; ` +
        `${config.stateFile} was not changed. Run oac-token-proxy login again to sign in.\n`,
    )
    void store.close().finally(() => process.exit(signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    claimCredential(store, credential)
    const result = await login(config, {
      credential: (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL,
      method,
      store,
      logger,
      out,
      interactive,
    })
    out(
      `Signed in${result.subject ? ` as ${result.subject}` : ''}. The refresh token is saved in ${config.stateFile} (mode 0600).`,
    )
    out(`Start the proxy with: oac-token-proxy serve${config.sourceFile ? ` --config ${config.sourceFile}` : ''}`)
    return EXIT.ok
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await store.close()
  }
}

/** Logs of one-shot commands go to stderr, so stdout stays clean for scripts. */
function stderrLogger(level: ProxyConfig['log']['level'] = 'warn', format: LogFormat = 'auto'): Logger {
  return createLogger({ level, fd: 2, pretty: wantsPretty(format, Boolean(process.stderr.isTTY)) })
}

async function tokenCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { config: { type: 'string', short: 'c' }, credential: { type: 'string' }, json: { type: 'boolean' } },
    'token',
  )
  if (values.help) return help('token')
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

async function statusCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { config: { type: 'string', short: 'c' }, credential: { type: 'string' }, json: { type: 'boolean' } },
    'status',
  )
  if (values.help) return help('status')
  const config = configFrom(values)
  const { collectStatus, renderStatus, statusExitCode } = await import('./status.js')
  const report = await collectStatus(config, values.credential as string | undefined)
  if (values.json) out(JSON.stringify(report, null, 2))
  else for (const line of renderStatus(report, config)) out(line)
  return statusExitCode(report)
}

async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' }, 'oac-url': { type: 'string' } }, 'doctor')
  if (values.help) return help('doctor')
  const configPath = (values.config as string | undefined) ?? process.env.OAC_PROXY_CONFIG
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

async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseWithFile(args)
  if (values.help) return help('import')
  const file = positionals[0]
  if (!file || positionals.length > 1)
    throw new ProxyError('usage', 'give exactly one file to import', { hint: 'oac-token-proxy import tokens.json' })
  const config = configFrom(values)
  const { FileStore } = await import('../token/store/file.js')
  const { importTokens, credentialByName } = await import('./login.js')
  const { claimCredential } = await import('../app/managers.js')
  const configured = credentialByName(config, (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL)
  const credential = configured.name
  const store = FileStore.open(config.stateFile)
  try {
    claimCredential(store, configured)
    const result = await importTokens(file, credential, store)
    out(
      result.kind === 'refresh_token'
        ? `Imported the refresh token into ${config.stateFile} (credential ${credential}).`
        : `Imported the access token into ${config.stateFile} (credential ${credential}); it is served until ${new Date(result.expiresAtMs as number).toISOString()}.`,
    )
    return EXIT.ok
  } finally {
    await store.close()
  }
}

function parseWithFile(args: string[]): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        credential: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }) as { values: Values; positionals: string[] }
  } catch (err) {
    throw new ProxyError('usage', (err as Error).message, { hint: 'Run oac-token-proxy help import.' })
  }
}

async function demo(args: string[]): Promise<number> {
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
  if (values.help) return help('demo')
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

async function simulate(args: string[]): Promise<number> {
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
  if (values.help) return help('simulate')
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
  if (typeof values['write-config'] === 'string') {
    const dir = resolve(values['write-config'])
    const created = !existsSync(dir) || readdirSync(dir).length === 0
    mkdirSync(dir, { recursive: true })
    // the folder holds a client secret and a refresh token: keep it out of git unless its owner decides otherwise
    if (created) writeFileSync(join(dir, '.gitignore'), '# written by oac-token-proxy simulate: secrets\n*\n')
    writeFileSync(join(dir, 'client-secret'), sim.clientSecret + '\n', { mode: 0o600 })
    writeFileSync(join(dir, 'refresh-token'), sim.issueRefreshToken() + '\n', { mode: 0o600 })
    writeFileSync(
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
      { mode: 0o600 },
    )
    out(`config written: ${join(dir, 'config.yaml')}  (secrets in files beside it, mode 0600)`)
    if (!created) {
      out(
        `${dir} already held files, so no .gitignore was written there: keep client-secret, refresh-token and the state file out of version control`,
      )
    }
  } else {
    out('client secret and refresh token: use --write-config DIR to get them as files')
  }
  const logger = stderrLogger('warn')
  await waitForSignal(logger)
  await sim.close()
  return EXIT.ok
}

interface IntRange {
  min: number
  max: number
  unit?: string
}

const PORT_RANGE: IntRange = { min: 0, max: 65535 }
/** The simulated access-token lifetime: long enough for the proxy's safety margin and refresh lead. */
const TOKEN_LIFETIME_RANGE: IntRange = { min: 10, max: 86400, unit: 'seconds' }

function intFlag(raw: unknown, name: string, fallback: number, range: IntRange = { min: 0, max: 2 ** 31 - 1 }): number {
  if (raw === undefined) return fallback
  const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new ProxyError(
      'usage',
      `${name} must be a whole number from ${range.min} to ${range.max}${range.unit ? ` (${range.unit})` : ''}, got '${String(raw)}'`,
      { hint: `For example ${name} ${Math.min(range.max, Math.max(range.min, fallback))}.` },
    )
  }
  return n
}

function logFormatFlag(raw: unknown): LogFormat | undefined {
  if (raw === undefined) return undefined
  if (raw === 'auto' || raw === 'json' || raw === 'pretty') return raw
  throw new ProxyError('usage', `--log-format must be auto, json or pretty, got '${String(raw)}'`)
}

function help(command: string): number {
  out(HELP[command] as string)
  return EXIT.ok
}

function waitForSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ event: 'proxy.stopping', signal }, `received ${signal}; draining`)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

function out(line: string): void {
  process.stdout.write(line + '\n')
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
