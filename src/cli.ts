#!/usr/bin/env -S node --max-semi-space-size=2 --no-wasm-tier-up
// Command-line entry: argv -> command. The only place that calls process.exit.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { loadConfig } from './config/load.js'
import { DEFAULT_CREDENTIAL, OPTIONS } from './config/options.js'
import type { ProxyConfig } from './config/types.js'
import { ERROR_CODES, OAuthError, ProxyError } from './errors.js'
import { createLogger, wantsPretty, type Logger } from './log.js'
import { pino } from 'pino'
import { startProxy } from './run.js'
import { VERSION } from './version.js'
import { EXIT, exitCodeFor } from './exit-codes.js'

/** Mirrors DEMO_DEFAULT_PORT in demo.ts (not imported: the simulator loads only for demo/simulate). */
const DEMO_DEFAULT_PORT = 8787

const FLAG_OPTIONS = OPTIONS.filter((o) => o.flag)

const HELP: Record<string, string> = {
  main: `oac-token-proxy ${VERSION}: a local proxy that adds fresh OAC access tokens to every request.

Usage: oac-token-proxy <command> [options]

Commands:
  serve      run the proxy (default command)
  login      sign in (device code, or --browser) and save the refresh token in the state file
  token      print a valid access token (asks the running proxy, if any)
  status     who is signed in, scopes, when the access and refresh tokens expire
  doctor     check the configuration, the identity domain, the scope, the grant and OAC
  import     import a tokens.json (OAC profile) or tokens.tok (IDCS console) into the state file
  demo       run the built-in IDCS + OAC simulator with the proxy in front, and print curl commands
  simulate   run only the simulator (for trying a config against it)
  help CMD   help for one command

Options: --help, --version

Environment: every config key has an OAC_PROXY_* variable (docs/configuration.md).`,
  serve: `Usage: oac-token-proxy serve [--config FILE] [options]

Runs the proxy. Configuration comes from FILE (or OAC_PROXY_CONFIG), then OAC_PROXY_* environment
variables, then these flags:
  -c, --config FILE     YAML config file
${FLAG_OPTIONS.map((o) => `      --${(o.flag as string).padEnd(16)}${o.path}`).join('\n')}`,
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
  --json    print {"accessToken","expiresAt","source"} instead of the bare token`,
  status: `Usage: oac-token-proxy status [--config FILE] [--json]

Shows each credential: health, who is signed in, scope, when the access token expires, how old the
refresh token is, the last refresh and error. Asks the running proxy, or reads the state file.`,
  doctor: `Usage: oac-token-proxy doctor [--config FILE] [--oac-url URL]

Checks, step by step: the configuration; OAC's sign-in redirect (discovering the identity domain and
the OAC app's audience from idcs_app_name, so --oac-url alone is enough to start); the identity
domain; the scope's shape; that each credential's grant yields a token; that OAC accepts it.
Exit code 0 when every check passes, 1 otherwise.`,
  import: `Usage: oac-token-proxy import FILE [--config FILE] [--credential NAME]

Imports console-issued tokens into the state file:
  tokens.json   downloaded from the OAC profile page: its refresh token is stored
  tokens.tok    downloaded from the IDCS console: its access token is used until it expires`,
  demo: `Usage: oac-token-proxy demo [--port N] [--token-lifetime SECONDS] [--check]

Starts a simulated IDCS + OAC and the proxy in front of them, then prints curl commands to try.
  --port N                 proxy port (default ${DEMO_DEFAULT_PORT}; a free one if busy)
  --token-lifetime S       access-token lifetime in seconds (default 100, as OAC)
  --check                  make one request through the proxy, print the result and exit`,
  simulate: `Usage: oac-token-proxy simulate [--idcs-port N] [--oac-port N] [--token-lifetime S] [--write-config DIR]

Runs only the simulated IDCS + OAC.
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
    out(HELP[argv[1] ?? 'main'] ?? (HELP.main as string))
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
      throw new ProxyError('usage', `unknown command '${command}'`, { hint: 'Run oac-token-proxy --help.' })
  }
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
        : { redirectPort: intFlag(values['redirect-port'], '--redirect-port', 0) }),
      ...(values['no-open'] ? { openBrowser: false } : {}),
    },
  }
  const method = values.browser ? 'browser' : values.device ? 'device' : config.login.method
  const logger = stderrLogger(config.log.level)
  const { FileStore } = await import('./token/store.js')
  const { login } = await import('./login.js')
  const store = FileStore.open(config.stateFile)
  try {
    const result = await login(config, {
      credential: (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL,
      method,
      store,
      logger,
      out,
      interactive: Boolean(process.stdout.isTTY),
    })
    out(
      `Signed in${result.subject ? ` as ${result.subject}` : ''}. The refresh token is saved in ${config.stateFile} (mode 0600).`,
    )
    out(`Start the proxy with: oac-token-proxy serve${config.sourceFile ? ` --config ${config.sourceFile}` : ''}`)
    return EXIT.ok
  } finally {
    await store.close()
  }
}

/** Logs of one-shot commands go to stderr, so stdout stays clean for scripts. */
function stderrLogger(level: ProxyConfig['log']['level'] = 'warn'): Logger {
  return createLogger({ level, destination: pino.destination({ dest: 2, sync: true }) })
}

async function tokenCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { config: { type: 'string', short: 'c' }, credential: { type: 'string' }, json: { type: 'boolean' } },
    'token',
  )
  if (values.help) return help('token')
  const config = configFrom(values)
  const { getToken } = await import('./commands/token.js')
  const result = await getToken(config, (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL, stderrLogger())
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
  const { values } = parse(args, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, 'status')
  if (values.help) return help('status')
  const config = configFrom(values)
  const { collectStatus, renderStatus } = await import('./commands/status.js')
  const report = await collectStatus(config)
  if (values.json) out(JSON.stringify(report, null, 2))
  else for (const line of renderStatus(report, config)) out(line)
  return EXIT.ok
}

async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' }, 'oac-url': { type: 'string' } }, 'doctor')
  if (values.help) return help('doctor')
  const configPath = (values.config as string | undefined) ?? process.env.OAC_PROXY_CONFIG
  const flags: Record<string, string> = {}
  if (typeof values['oac-url'] === 'string') flags.oacUrl = values['oac-url']
  const { runDoctor } = await import('./commands/doctor.js')
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
  const { FileStore } = await import('./token/store.js')
  const { importTokens, credentialByName } = await import('./login.js')
  const credential = credentialByName(config, (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL).name
  const store = FileStore.open(config.stateFile)
  try {
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
    { port: { type: 'string' }, 'token-lifetime': { type: 'string' }, check: { type: 'boolean' } },
    'demo',
  )
  if (values.help) return help('demo')
  const port = intFlag(values.port, '--port', DEMO_DEFAULT_PORT)
  const tokenLifetimeS = intFlag(values['token-lifetime'], '--token-lifetime', 100)
  // logs to stderr so the instructions on stdout stay readable
  const logger = createLogger({
    level: values.check ? 'warn' : 'info',
    destination: pino.destination({ dest: 2, sync: false }),
  })
  const { startDemo, checkDemo } = await import('./demo.js')
  const running = await startDemo({ port, tokenLifetimeS, logger, out })
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
  const { startSimulator } = await import('./simulator/index.js')
  const sim = await startSimulator({
    idcsPort: intFlag(values['idcs-port'], '--idcs-port', 0),
    oacPort: intFlag(values['oac-port'], '--oac-port', 0),
    accessTokenLifetimeS: intFlag(values['token-lifetime'], '--token-lifetime', 100),
  })
  out(`simulated IDCS: ${sim.idcsUrl}`)
  out(`simulated OAC:  ${sim.oacUrl}`)
  out(`client id:      ${sim.clientId}`)
  out(`scope:          ${sim.scope}`)
  if (typeof values['write-config'] === 'string') {
    const dir = resolve(values['write-config'])
    mkdirSync(dir, { recursive: true })
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
        'stateFile: state.json',
        '',
      ].join('\n'),
      { mode: 0o600 },
    )
    out(`config written: ${join(dir, 'config.yaml')}  (secrets in files beside it, mode 0600)`)
  } else {
    out('client secret and refresh token: use --write-config DIR to get them as files')
  }
  const logger = createLogger({ level: 'warn' })
  await waitForSignal(logger)
  await sim.close()
  return EXIT.ok
}

function intFlag(raw: unknown, name: string, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0)
    throw new ProxyError('usage', `${name} must be a whole number, got '${String(raw)}'`)
  return n
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
