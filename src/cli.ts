#!/usr/bin/env node
// Command-line entry: argv -> command. The only place that calls process.exit.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { loadConfig } from './config/load.js'
import { OPTIONS } from './config/options.js'
import { ERROR_CODES, ProxyError, type ErrorCode } from './errors.js'
import { createLogger, type Logger } from './log.js'
import { pino } from 'pino'
import { startProxy } from './run.js'
import { VERSION } from './version.js'

/** Exit codes; docs/cli.md and the README list them. */
/** Mirrors DEMO_DEFAULT_PORT in demo.ts (not imported: the simulator loads only for demo/simulate). */
const DEMO_DEFAULT_PORT = 8787

export const EXIT = { ok: 0, failure: 1, usage: 2, state: 3, login: 4 } as const

const FLAG_OPTIONS = OPTIONS.filter((o) => o.flag)

const HELP: Record<string, string> = {
  main: `oac-token-proxy ${VERSION}: a local proxy that adds fresh OAC access tokens to every request.

Usage: oac-token-proxy <command> [options]

Commands:
  serve      run the proxy (default command)
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
  const logger = createLogger({ level: config.log.level })
  const proxy = await startProxy(config, { logger })
  await waitForSignal(logger)
  await proxy.close()
  logger.flush()
  return EXIT.ok
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

export function exitCodeFor(code: ErrorCode): number {
  if (code === 'usage' || code === 'config_invalid' || code === 'config_unreadable' || code === 'secret_unreadable')
    return EXIT.usage
  if (code === 'state_locked' || code === 'state_corrupt' || code === 'state_write_failed') return EXIT.state
  if (code === 'login_required' || code === 'credential_rejected') return EXIT.login
  return EXIT.failure
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof ProxyError && err.code in ERROR_CODES) {
      process.stderr.write(`oac-token-proxy: ${err.code}: ${err.message}\n`)
      if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`)
      process.exit(exitCodeFor(err.code))
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
