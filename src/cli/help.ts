// The help and version commands, the help page of every command, and the usage error for an unknown command.
import { ProxyError } from '../shared/errors.js'
import { VERSION } from '../shared/version.js'
import { FLAG_OPTIONS, flagHelp } from './argv.js'
import { EXIT } from './exit-codes.js'
import { out } from './output.js'

/** Mirrors DEMO_DEFAULT_PORT in demo.ts (not imported: the simulator loads only for demo/simulate). */
export const DEMO_DEFAULT_PORT = 8787

const COMMANDS = [
  'serve',
  'login',
  'token',
  'status',
  'doctor',
  'import',
  'migrate',
  'demo',
  'simulate',
  'version',
  'help',
]

/** The help pages: the main one and one per command. */
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
  migrate    move the state file into the shared store (--to redis), or back (--to file)
  demo       run the built-in IDCS + OAC simulator with the proxy in front, and print curl commands
  simulate   run only the simulator (for trying a config against it)
  version    print the version
  help CMD   help for one command

Options: --help, --version

With a store section (store.url or store.sentinel), login, import, token, status and doctor work on the
state the replicas share in Redis instead of the state file (docs/redis-store.md).

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
Stop a running proxy on the same state file first (its state file is locked).
With a shared store (store.url or store.sentinel) the result is stored in Redis as the next version
instead: every running replica adopts it at once, none needs to stop.`,
  token: `Usage: oac-token-proxy token [--config FILE] [--credential NAME] [--json]

Prints a valid access token, e.g.  curl -H "Authorization: Bearer $(oac-token-proxy token)" ...
When a proxy runs on the same state file it asks that proxy (through its admin endpoint, with the key
from the state lock file) instead of refreshing, so the rotating refresh token is never burned.
Without a proxy it reuses the access token it saved in the state file (mode 0600) by an earlier call
while that has at least 30 s (or half its lifetime) left, and refreshes only when it is near expiry.
With a shared store it prints the stored access token while it is not yet due for a refresh, and
otherwise refreshes through the fleet (under the store's lock and version check; the replicas adopt the
result). With Redis down a refresh_token grant fails with store_unavailable rather than fork the rotation.
  --json    print {"accessToken","expiresAt","source"} (source: proxy, saved, store or refresh) instead of the bare token`,
  status: `Usage: oac-token-proxy status [--config FILE] [--credential NAME] [--json]

Shows each credential: health, who is signed in, the token's scope and the configured one, when the
access token expires, how old the refresh token is, the last refresh and error. Asks the running proxy,
or reads the state file. With a shared store it reads Redis: the store (kind, target without password,
key prefix, encryption key id) and each credential's stored version, which replica wrote it and when.
  --credential NAME    only this credential
  --json               the same as JSON
Exit code (the most serious state shown): 0 every credential holds a valid token, 4 login_required,
5 credential_rejected, 6 not ready (starting or failing), 7 no proxy running on the state file
(with a shared store: no valid access token stored).`,
  doctor: `Usage: oac-token-proxy doctor [--config FILE] [--oac-url URL]

Checks, step by step: the configuration; OAC's sign-in redirect (discovering the identity domain and
the OAC app's audience from idcs_app_name, so --oac-url alone is enough to start); the identity
domain; the scope's shape; that each credential's grant yields a token; that OAC accepts it.
With a shared store it first checks Redis: the connection (PING), the password and ACL permissions, TLS,
and that the encryption key opens each credential's stored state; each failure names its fix.
Exit code 0 when every check passes, 1 otherwise.`,
  import: `Usage: oac-token-proxy import FILE [--config FILE] [--credential NAME]

Imports console-issued tokens into the state file:
  tokens.json   downloaded from the OAC profile page: its refresh token is stored
  tokens.tok    downloaded from the IDCS console: its access token is used until it expires
With a shared store (store.url or store.sentinel) they are stored in Redis as the next version, and
every running replica adopts them.`,
  migrate: `Usage: oac-token-proxy migrate --to redis|file [--config FILE] [--credential NAME] [--force]

Moves each credential's state (refresh token, access token, who signed in) between the state file and
the shared store of the configuration's store section:
  --to redis          the state file into Redis, as the next version (the replicas adopt it)
  --to file           Redis into the state file (mode 0600), e.g. before going back to one process
  --credential NAME   only this credential
  --force             replace the target's state even when it is newer than the source's
It refuses, writing nothing, when the target holds a newer state (exit 3, migrate_target_newer): that
state's refresh token would be lost. The source is kept as it was. A proxy serving from the state file
must be stopped first (state_locked).
Exit code 0 when done, 2 for a usage or configuration error, 3 when refused.`,
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
                       beside it (mode 0600), ready for: oac-token-proxy serve --config DIR/config.yaml;
                       a state file an earlier simulator left in DIR is removed (its tokens ended with it)`,
}

/** Prints a command's help page (its -h/--help); exit 0. */
export function showHelp(command: string): number {
  out(HELP[command] as string)
  return EXIT.ok
}

/** A bare call (exit 2) or --help (exit 0): the main help page. */
export function mainHelp(bare: boolean): number {
  out(HELP.main as string)
  return bare ? EXIT.usage : EXIT.ok
}

/** `help [COMMAND]`: the main page, or one command's. */
export function helpCommand(args: string[]): number {
  const topic = args[0] ?? 'main'
  if (args.length > 1 || !(topic in HELP)) throw unknownCommand(args.join(' '))
  return showHelp(topic)
}

/** `version` (or --version): the version; `version --help` is its help page. */
export function versionCommand(args: string[]): number {
  if (args.length > 0 && !['--help', '-h'].includes(args[0] as string))
    throw new ProxyError('usage', `version takes no arguments, got '${args.join(' ')}'`)
  out(args.length > 0 ? (HELP.version as string) : VERSION)
  return EXIT.ok
}

export function unknownCommand(command: string): ProxyError {
  return new ProxyError('usage', `unknown command '${command}'`, {
    hint: `Commands: ${COMMANDS.join(', ')}. Run oac-token-proxy --help.`,
  })
}
