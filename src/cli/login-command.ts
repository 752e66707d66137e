// The `login` and `import` commands' argv: sign in, or import console-issued tokens, into the state file or the shared store.
import { DEFAULT_CREDENTIAL } from '../config/options.js'
import type { CredentialConfig, ProxyConfig } from '../config/types.js'
import { ProxyError } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { TokenStore } from '../token/store/types.js'
import { configFrom, intFlag, parse, parseWithPositionals, PORT_RANGE, type Values } from './argv.js'
import { EXIT } from './exit-codes.js'
import { showHelp } from './help.js'
import { out, stderrLogger } from './output.js'
import { listenForInterruption } from './signals.js'

export async function loginCommand(args: string[]): Promise<number> {
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
  if (values.help) return showHelp('login')
  if (values.browser && values.device) throw new ProxyError('usage', 'give --browser or --device, not both')
  const config = loginConfig(values)
  const method = values.browser ? 'browser' : values.device ? 'device' : config.login.method
  const interactive = Boolean(process.stdout.isTTY)
  // on a terminal the screen (code, QR, countdown) says it all: only warnings, as human lines
  const logger = stderrLogger(interactive ? 'warn' : config.log.level, config.log.format)
  const { login, credentialByName } = await import('./login.js')
  const credential = credentialByName(config, (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL)
  const target = await openTarget(config, credential, logger)
  const { store } = target
  // Ctrl-C while waiting for the sign-in: say so, release the lock on the way out, and exit 130 (143 on SIGTERM)
  const interruption = listenForInterruption((signal) => {
    process.stderr.write(
      `\noac-token-proxy: login cancelled (${signal === 'SIGINT' ? 'Ctrl-C' : signal}) before the sign-in completed; ` +
        `${config.store ? 'the shared store' : config.stateFile} was not changed. Run oac-token-proxy login again to sign in.\n`,
    )
  })
  try {
    const signingIn = login(config, {
      credential: (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL,
      method,
      store,
      logger,
      out,
      interactive,
    })
    const result = await Promise.race([signingIn, interruption.signalled])
    out(`Signed in${result.subject ? ` as ${result.subject}` : ''}. The refresh token is saved in ${target.where()}.`)
    if (config.store) out('Every replica on this store adopts it without signing in.')
    out(`Start the proxy with: oac-token-proxy serve${config.sourceFile ? ` --config ${config.sourceFile}` : ''}`)
    return EXIT.ok
  } finally {
    interruption.stop()
    await store.close()
  }
}

/** Where a login or an import writes: the shared store when configured (Redis loads only then), else the state file. */
interface Target {
  store: TokenStore
  where(): string
  importAccessToken?(accessToken: string, expiresAtMs: number): Promise<void>
}

async function openTarget(config: ProxyConfig, credential: CredentialConfig, logger: Logger): Promise<Target> {
  if (config.store) {
    const { openCommandStore, storeImportedAccessToken, withStateFileFallback } = await import('./shared-store.js')
    const shared = await openCommandStore(config, logger)
    return {
      store: withStateFileFallback(shared.wiring.store, config),
      where: () => shared.where(credential.name),
      importAccessToken: async (accessToken, expiresAtMs) => {
        await storeImportedAccessToken(shared, credential, accessToken, expiresAtMs)
      },
    }
  }
  const { FileStore } = await import('../token/store/file.js')
  const { claimCredential } = await import('../app/managers.js')
  const { logStoreOpened } = await import('../app/run.js')
  const store = openForWriting(() => FileStore.open(config.stateFile))
  logStoreOpened(store, logger)
  try {
    claimCredential(store, credential)
  } catch (err) {
    await store.close()
    throw err
  }
  return { store, where: () => `${config.stateFile} (mode 0600)` }
}

/** A state file another process holds (state_locked): the hint says how login and import get to write it. */
function openForWriting<T>(open: () => T): T {
  try {
    return open()
  } catch (err) {
    if (!(err instanceof ProxyError) || err.code !== 'state_locked') throw err
    throw new ProxyError('state_locked', err.message, {
      cause: err,
      hint:
        'login and import write the state file that process holds: stop it, run this command again, then start it. ' +
        'A proxy running with login.headless (the default) signs in by itself: approve the code in its log ' +
        '(login.device_code) or on its status page /-/, with no need to stop it.',
    })
  }
}

/** The configuration with login's own flags (--redirect-port, --no-open) laid over it. */
function loginConfig(values: Values): ProxyConfig {
  const loaded = configFrom(values)
  return {
    ...loaded,
    login: {
      ...loaded.login,
      ...(values['redirect-port'] === undefined
        ? {}
        : { redirectPort: intFlag(values['redirect-port'], '--redirect-port', 0, PORT_RANGE) }),
      ...(values['no-open'] ? { openBrowser: false } : {}),
    },
  }
}

export async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseWithPositionals(
    args,
    { config: { type: 'string', short: 'c' }, credential: { type: 'string' } },
    'import',
  )
  if (values.help) return showHelp('import')
  const file = positionals[0]
  if (!file || positionals.length > 1)
    throw new ProxyError('usage', 'give exactly one file to import', { hint: 'oac-token-proxy import tokens.json' })
  const config = configFrom(values)
  const { importTokens, credentialByName } = await import('./login.js')
  const configured = credentialByName(config, (values.credential as string | undefined) ?? DEFAULT_CREDENTIAL)
  const credential = configured.name
  const target = await openTarget(config, configured, stderrLogger('warn', config.log.format))
  try {
    const result = await importTokens(file, credential, target.store, undefined, target.importAccessToken)
    out(
      result.kind === 'refresh_token'
        ? `Imported the refresh token into ${target.where()} (credential ${credential}).`
        : `Imported the access token into ${target.where()} (credential ${credential}); it is served until ${new Date(result.expiresAtMs as number).toISOString()}.`,
    )
    return EXIT.ok
  } finally {
    await target.store.close()
  }
}
