// loadConfig: file < env < flags, defaults, paths, every problem in one error, secrets that never leak.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { loadConfig, type LoadOptions } from '../../src/config/load.js'
import {
  DEFAULT_CONNECT_TIMEOUT_SECONDS,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_REPLAY_BODY_LIMIT_BYTES,
  DEFAULT_SHUTDOWN_GRACE_SECONDS,
  DEFAULT_STATE_FILE,
  DEFAULT_UPSTREAM_CONNECTIONS,
  DEFAULT_QUEUE_TIMEOUT_SECONDS,
  DEFAULT_UPSTREAM_TIMEOUT_SECONDS,
  envName,
} from '../../src/config/options.js'
import type { ProxyConfig } from '../../src/config/types.js'
import { ProxyError } from '../../src/shared/errors.js'
import { DEFAULT_TOKEN_SETTINGS, registerSecret } from '../helpers.js'

const REQUIRED = [
  'oacUrl: https://oac.example.com',
  'idcsUrl: https://idcs.example.com',
  'clientId: my-client',
  'scope: "https://aud.example.comurn:opc:resource:consumer::all offline_access"',
]

/** A config file with the required keys plus `extra` lines; returns its absolute path. */
function configFile(t: Test, extra: string[] = [], files = {}): string {
  const dir = t.testdir({ 'config.yaml': [...REQUIRED, ...extra, ''].join('\n'), ...files })
  return join(dir, 'config.yaml')
}

function load(options: LoadOptions): ProxyConfig {
  return loadConfig({ env: {}, ...options })
}

/** The ProxyError loadConfig throws; fails the test when it does not throw. */
function loadError(t: Test, options: LoadOptions): ProxyError {
  try {
    load(options)
  } catch (err) {
    t.type(err, ProxyError)
    return err as ProxyError
  }
  t.fail('loadConfig did not throw')
  return new ProxyError('internal_error', 'no error')
}

/** The problem lines of a config_invalid message. */
function problemLines(err: ProxyError): string[] {
  return err.message.split('\n').filter((l) => l.startsWith('  - '))
}

t.test('defaults fill every option not given', async (t) => {
  const path = configFile(t)
  const config = load({ configPath: path })
  t.same(config, {
    sourceFile: path,
    oacUrl: 'https://oac.example.com',
    idcsUrl: 'https://idcs.example.com',
    clientId: 'my-client',
    clientSecret: undefined,
    scope: 'https://aud.example.comurn:opc:resource:consumer::all offline_access',
    refreshToken: undefined,
    stateFile: join(t.testdirName, DEFAULT_STATE_FILE),
    credentials: [
      {
        name: 'default',
        idcsUrl: 'https://idcs.example.com',
        clientId: 'my-client',
        clientSecret: undefined,
        clientAuth: 'none',
        grant: 'refresh_token',
        scope: 'https://aud.example.comurn:opc:resource:consumer::all offline_access',
        refreshToken: undefined,
        username: undefined,
        password: undefined,
        assertionKey: undefined,
        tokenFile: undefined,
      },
    ],
    routes: [{ prefix: '/', upstream: 'https://oac.example.com', credential: 'default' }],
    login: {
      method: 'device',
      headless: true,
      redirectPort: 0,
      redirectPath: '/callback',
      openBrowser: true,
      prompt: 'consent',
      timeoutMs: 600_000,
    },
    listen: { host: DEFAULT_HOST, port: DEFAULT_PORT, tcp: true, socket: undefined, socketMode: 0o600 },
    security: {
      localKeys: [],
      localKeyHeader: 'authorization',
      allowedHosts: [],
      allowedOrigins: [],
      allowNonLoopback: false,
    },
    tls: { ca: undefined },
    warnings: [],
    token: { ...DEFAULT_TOKEN_SETTINGS },
    proxy: {
      replayBodyLimitBytes: DEFAULT_REPLAY_BODY_LIMIT_BYTES,
      connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_SECONDS * 1000,
      upstreamTimeoutMs: DEFAULT_UPSTREAM_TIMEOUT_SECONDS * 1000,
      connections: DEFAULT_UPSTREAM_CONNECTIONS,
      queueTimeoutMs: DEFAULT_QUEUE_TIMEOUT_SECONDS * 1000,
      shutdownGraceMs: DEFAULT_SHUTDOWN_GRACE_SECONDS * 1000,
    },
    log: { level: 'info', requests: true, format: 'auto' },
    admin: { port: undefined, host: '127.0.0.1', readyMinRemainingMs: 10_000 },
  })
})

t.test('seconds in the file become milliseconds', async (t) => {
  const config = load({ configPath: configFile(t, ['token:', '  minLeadSeconds: 12.5', '  backoffMaxSeconds: 2']) })
  t.equal(config.token.minLeadMs, 12_500)
  t.equal(config.token.backoffMaxMs, 2000)
})

t.test('an environment variable overrides the file', async (t) => {
  const path = configFile(t, ['listen:', '  port: 1000'])
  const config = load({ configPath: path, env: { [envName('listen.port')]: '2000' } })
  t.equal(envName('listen.port'), 'OAC_PROXY_LISTEN_PORT')
  t.equal(config.listen.port, 2000)
})

t.test('a flag overrides the environment and the file', async (t) => {
  const path = configFile(t, ['listen:', '  port: 1000'])
  const config = load({ configPath: path, env: { OAC_PROXY_LISTEN_PORT: '2000' }, flags: { 'listen.port': '3000' } })
  t.equal(config.listen.port, 3000)
})

t.test('an empty environment variable is ignored', async (t) => {
  const config = load({ configPath: configFile(t), env: { OAC_PROXY_CLIENT_ID: '' } })
  t.equal(config.clientId, 'my-client')
})

t.test('env and flags alone are a complete configuration', async (t) => {
  const cwd = t.testdir({})
  const config = load({
    cwd,
    env: {
      OAC_PROXY_OAC_URL: 'https://oac.example.com/',
      OAC_PROXY_IDCS_URL: 'https://idcs.example.com',
      OAC_PROXY_CLIENT_ID: 'env-client',
      OAC_PROXY_SCOPE: 'scope offline_access',
    },
    flags: { 'log.level': 'debug' },
  })
  t.equal(config.sourceFile, undefined)
  t.equal(config.oacUrl, 'https://oac.example.com', 'trailing slash removed')
  t.equal(config.clientId, 'env-client')
  t.equal(config.log.level, 'debug')
  t.equal(config.stateFile, join(cwd, DEFAULT_STATE_FILE), 'relative to cwd without a file')
})

t.test('a relative stateFile is resolved against the config file directory, not cwd', async (t) => {
  const dir = t.testdir({
    conf: { 'config.yaml': [...REQUIRED, 'stateFile: state/proxy.json', ''].join('\n') },
    elsewhere: {},
  })
  const config = load({ configPath: join(dir, 'conf', 'config.yaml'), cwd: join(dir, 'elsewhere') })
  t.equal(config.stateFile, join(dir, 'conf', 'state', 'proxy.json'))
})

t.test('a relative config path is resolved against cwd', async (t) => {
  const dir = t.testdir({ 'config.yaml': [...REQUIRED, ''].join('\n') })
  const config = load({ configPath: 'config.yaml', cwd: dir })
  t.equal(config.sourceFile, join(dir, 'config.yaml'))
})

t.test('an unknown key is reported with the key, the file and a suggestion', async (t) => {
  const path = configFile(t, ['listn:', '  port: 9000'])
  const err = loadError(t, { configPath: path })
  t.equal(err.code, 'config_invalid')
  t.same(problemLines(err), [`  - listn is an unknown key (did you mean 'listen'?) (${path})`])
})

t.test('an unknown nested key suggests the sibling', async (t) => {
  const path = configFile(t, ['listen:', '  prot: 9000'])
  const err = loadError(t, { configPath: path })
  t.equal(err.code, 'config_invalid')
  t.same(problemLines(err), [`  - listen.prot is an unknown key (did you mean 'listen.port'?) (${path})`])
})

t.test('an unknown key far from every option gets no suggestion', async (t) => {
  const path = configFile(t, ['completelyDifferent: 1'])
  const err = loadError(t, { configPath: path })
  t.same(problemLines(err), [`  - completelyDifferent is an unknown key (${path})`])
})

t.test('every problem is reported in one error', async (t) => {
  const dir = t.testdir({
    'config.yaml': [
      'oacUrl: https://oac.example.com',
      'idcsUrl: https://idcs.example.com',
      'scope: s',
      'listen:',
      '  port: eighty',
      'log:',
      '  level: loud',
      'listn: 1',
      '',
    ].join('\n'),
  })
  const path = join(dir, 'config.yaml')
  const err = loadError(t, { configPath: path })
  t.equal(err.code, 'config_invalid')
  const lines = problemLines(err)
  t.equal(lines.length, 4)
  t.match(err.message, /^configuration has 4 problems:/)
  for (const key of ['clientId', 'listn', 'listen.port', 'log.level']) {
    t.equal(lines.filter((l) => l.startsWith(`  - ${key} `)).length, 1, `${key} reported once`)
  }
  t.ok(
    lines.every((l) => l.endsWith(`(${path})`)),
    'each problem names the file',
  )
})

t.test('a non-number in the env var for listen.port names the variable', async (t) => {
  const err = loadError(t, { configPath: configFile(t), env: { OAC_PROXY_LISTEN_PORT: 'eighty' } })
  t.equal(err.code, 'config_invalid')
  t.same(problemLines(err), ['  - listen.port must be an integer (env OAC_PROXY_LISTEN_PORT)'])
})

t.test('a non-number in a flag names the flag', async (t) => {
  const err = loadError(t, { configPath: configFile(t), flags: { 'listen.port': 'eighty' } })
  t.same(problemLines(err), ['  - listen.port must be an integer (flag --port)'])
})

t.test('a port out of range is refused', async (t) => {
  const err = loadError(t, { configPath: configFile(t), flags: { 'listen.port': '70000' } })
  t.equal(err.code, 'config_invalid')
  t.same(problemLines(err), ['  - listen.port must be <= 65535 (flag --port)'])
})

t.test('an unknown flag is a usage error', async (t) => {
  const err = loadError(t, { configPath: configFile(t), flags: { 'listen.prot': '1' } })
  t.equal(err.code, 'usage')
})

t.test('plain http is allowed to loopback hosts', async (t) => {
  const path = configFile(t, [])
  for (const url of ['http://127.0.0.1:9000', 'http://localhost:9000', 'http://[::1]:9000']) {
    const config = load({ configPath: path, env: { OAC_PROXY_OAC_URL: url, OAC_PROXY_IDCS_URL: url } })
    t.equal(config.oacUrl, url)
    t.equal(config.idcsUrl, url)
  }
})

t.test('plain http to another host is refused, naming the key', async (t) => {
  const err = loadError(t, { configPath: configFile(t), env: { OAC_PROXY_IDCS_URL: 'http://idcs.example.com' } })
  t.equal(err.code, 'config_invalid')
  t.equal(problemLines(err).length, 1)
  t.match(problemLines(err)[0], /^ {2}- idcsUrl .*\(env OAC_PROXY_IDCS_URL\)$/)
})

t.test('a URL that does not parse or is not http(s) is refused', async (t) => {
  const err = loadError(t, {
    configPath: configFile(t),
    env: { OAC_PROXY_OAC_URL: 'not a url', OAC_PROXY_IDCS_URL: 'ftp://idcs.example.com' },
  })
  t.equal(err.code, 'config_invalid')
  t.equal(problemLines(err).length, 2)
  t.match(problemLines(err)[0], /^ {2}- oacUrl /)
  t.match(problemLines(err)[1], /^ {2}- idcsUrl /)
})

t.test('a YAML syntax error gives config_unreadable with file:line', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'oacUrl: https://oac.example.com\nlisten:\n  port: [1, 2\nclientId: x\n' })
  const path = join(dir, 'config.yaml')
  const err = loadError(t, { configPath: path })
  t.equal(err.code, 'config_unreadable')
  t.match(err.message, `${path}:`)
  t.match(err.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `))
})

t.test('a duplicate key is a YAML error', async (t) => {
  const dir = t.testdir({ 'config.yaml': [...REQUIRED, 'clientId: again', ''].join('\n') })
  const path = join(dir, 'config.yaml')
  const err = loadError(t, { configPath: path })
  t.equal(err.code, 'config_unreadable')
  t.match(err.message, `${path}:5:`)
})

t.test('a top level that is not a mapping is refused', async (t) => {
  const dir = t.testdir({ 'config.yaml': '- oacUrl\n- idcsUrl\n' })
  const path = join(dir, 'config.yaml')
  const err = loadError(t, { configPath: path })
  t.equal(err.code, 'config_invalid')
  t.match(err.message, path)
})

t.test('an empty file counts as no settings', async (t) => {
  const dir = t.testdir({ 'config.yaml': '# nothing yet\n' })
  const err = loadError(t, { configPath: join(dir, 'config.yaml') })
  t.equal(err.code, 'config_invalid')
  t.equal(problemLines(err).length, 4, 'the four required keys')
})

t.test('a missing config file gives config_unreadable naming the path', async (t) => {
  const dir = t.testdir({})
  const path = join(dir, 'missing.yaml')
  const err = loadError(t, { configPath: path })
  t.equal(err.code, 'config_unreadable')
  t.match(err.message, path)
  t.match(err.message, 'ENOENT')
})

t.test('a directory as config file gives config_unreadable', async (t) => {
  const dir = t.testdir({ sub: {} })
  const err = loadError(t, { configPath: join(dir, 'sub') })
  t.equal(err.code, 'config_unreadable')
})

t.test('the returned config is deeply frozen', async (t) => {
  const config = load({ configPath: configFile(t) })
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.listen))
  t.ok(Object.isFrozen(config.token))
  t.ok(Object.isFrozen(config.proxy))
  t.ok(Object.isFrozen(config.log))
  t.throws(() => {
    ;(config.listen as { port: number }).port = 1
  }, TypeError)
  t.equal(config.listen.port, DEFAULT_PORT)
})

t.test('secrets', async (t) => {
  const SECRET = 'S3cr3t-Value-9f7c2e1d'

  t.test('inline string', async (t) => {
    const config = load({ configPath: configFile(t, [`clientSecret: ${SECRET}`]) })
    t.equal(config.clientSecret?.reveal(), SECRET)
  })

  t.test('{env: NAME}', async (t) => {
    const config = load({ configPath: configFile(t, ['clientSecret: { env: MY_SECRET }']), env: { MY_SECRET: SECRET } })
    t.equal(config.clientSecret?.reveal(), SECRET)
    t.equal(config.clientSecret?.source, 'env MY_SECRET')
  })

  t.test('{file: PATH} relative to the config file, trimmed', async (t) => {
    const path = configFile(t, ['clientSecret: { file: secrets/client }'], { secrets: { client: `${SECRET}\n` } })
    const config = load({ configPath: path, cwd: '/' })
    t.equal(config.clientSecret?.reveal(), SECRET)
  })

  t.test('OAC_PROXY_CLIENT_SECRET', async (t) => {
    const config = load({
      configPath: configFile(t, ['clientSecret: from-file']),
      env: { OAC_PROXY_CLIENT_SECRET: SECRET },
    })
    t.equal(config.clientSecret?.reveal(), SECRET)
  })

  t.test('OAC_PROXY_CLIENT_SECRET_FILE', async (t) => {
    const path = configFile(t, [], { 'client-secret': `  ${SECRET}  \n` })
    const config = load({
      configPath: path,
      env: { OAC_PROXY_CLIENT_SECRET_FILE: join(t.testdirName, 'client-secret') },
    })
    t.equal(config.clientSecret?.reveal(), SECRET)
  })

  t.test('a bare refresh token file', async (t) => {
    const path = configFile(t, ['refreshToken: { file: rt }'], { rt: `${SECRET}\n` })
    t.equal(load({ configPath: path }).refreshToken?.reveal(), SECRET)
  })

  t.test('refreshToken from an OAC profile tokens.json', async (t) => {
    const tokens = JSON.stringify({ access_token: 'at-should-not-be-used', refresh_token: SECRET })
    const path = configFile(t, ['refreshToken: { file: tokens.json }'], { 'tokens.json': tokens })
    t.equal(load({ configPath: path }).refreshToken?.reveal(), SECRET)
  })

  t.test('a tokens.tok file (access token only) is refused', async (t) => {
    const tok = JSON.stringify({ app_access_token: SECRET })
    const path = configFile(t, ['refreshToken: { file: tokens.tok }'], { 'tokens.tok': tok })
    const err = loadError(t, { configPath: path })
    t.equal(err.code, 'secret_unreadable')
    t.match(err.message, /^refreshToken: /)
    t.match(err.message, 'only an access token')
    t.notMatch(err.message, SECRET)
  })

  t.test('a refresh token file that looks like JSON but does not parse', async (t) => {
    const path = configFile(t, ['refreshToken: { file: tokens.json }'], {
      'tokens.json': `{"refresh_token": "${SECRET}"`,
    })
    const err = loadError(t, { configPath: path })
    t.equal(err.code, 'secret_unreadable')
    t.match(err.message, /^refreshToken: /)
  })

  t.test('a missing environment variable gives secret_unreadable naming the key', async (t) => {
    const err = loadError(t, { configPath: configFile(t, ['clientSecret: { env: NOT_SET_ANYWHERE }']) })
    t.equal(err.code, 'secret_unreadable')
    t.match(err.message, /^clientSecret: /)
    t.match(err.message, 'NOT_SET_ANYWHERE')
  })

  t.test('a missing file gives secret_unreadable naming the key', async (t) => {
    const err = loadError(t, { configPath: configFile(t, ['refreshToken: { file: nowhere }']) })
    t.equal(err.code, 'secret_unreadable')
    t.match(err.message, /^refreshToken: /)
    t.match(err.message, 'ENOENT')
  })

  t.test('an empty secret file gives secret_unreadable', async (t) => {
    const path = configFile(t, ['clientSecret: { file: empty }'], { empty: '\n' })
    const err = loadError(t, { configPath: path })
    t.equal(err.code, 'secret_unreadable')
    t.match(err.message, /^clientSecret: /)
  })

  t.test('two unreadable secrets are reported together', async (t) => {
    const path = configFile(t, ['clientSecret: { env: NOT_SET_A }', 'refreshToken: { env: NOT_SET_B }'])
    const err = loadError(t, { configPath: path })
    t.equal(err.code, 'secret_unreadable')
    t.equal(err.message.split('\n').length, 2)
  })

  t.test('a secret with two sources is a config error', async (t) => {
    const err = loadError(t, { configPath: configFile(t, [`clientSecret: { value: ${SECRET}, env: X }`]) })
    t.equal(err.code, 'config_invalid')
    t.match(problemLines(err)[0], /^ {2}- clientSecret /)
  })

  t.test('the secret value never appears in an error', async (t) => {
    const failures: Array<() => LoadOptions> = [
      () => ({ configPath: configFile(t, [`clientSecret: { value: ${SECRET}, env: X }`]) }),
      () => ({ configPath: configFile(t, [`clientSecret: [${SECRET}]`]) }),
      () => ({ configPath: configFile(t, [`clientSecret: ${SECRET}`, 'listen: { port: x }']) }),
      () => ({ configPath: configFile(t, ['listn: 1']), env: { OAC_PROXY_CLIENT_SECRET: SECRET } }),
      () => ({ configPath: configFile(t, [`clientSecret: "${SECRET}`]) }),
      () => ({ configPath: configFile(t, [`log: { level: ${SECRET} }`]) }),
      () => ({
        configPath: configFile(t, ['clientSecret: x']),
        env: { OAC_PROXY_OAC_URL: `https://u:${SECRET}@oac.example.com` },
      }),
      () => ({ configPath: configFile(t, ['clientSecret: x']), flags: { 'listen.port': SECRET } }),
      () => ({
        configPath: configFile(t, ['refreshToken: { file: tokens.tok }'], {
          'tokens.tok': JSON.stringify({ app_access_token: SECRET }),
        }),
      }),
      () => ({
        configPath: configFile(t, ['refreshToken: { file: tokens.json }'], {
          'tokens.json': `{"refresh_token":"${SECRET}"`,
        }),
      }),
      () => ({
        configPath: configFile(t, ['refreshToken: { file: tokens.json }'], {
          'tokens.json': JSON.stringify({ id_token: SECRET }),
        }),
      }),
      () => ({
        configPath: configFile(t, ['refreshToken: { file: rt }', 'clientSecret: { env: NOT_SET }'], { rt: SECRET }),
      }),
    ]
    t.plan(failures.length * 2)
    for (const options of failures) {
      const err = loadError(t, options())
      t.notOk(`${err.message}\n${err.hint ?? ''}\n${inspect(err)}`.includes(SECRET), `${err.code} does not show it`)
    }
  })

  t.test('a resolved Secret never shows its value', async (t) => {
    const config = load({ configPath: configFile(t, [`clientSecret: ${SECRET}`]) })
    const secret = config.clientSecret
    t.ok(secret)
    t.equal(String(secret), '[redacted]')
    t.equal(`${secret}`, '[redacted]')
    t.equal(JSON.stringify(secret), '"[redacted]"')
    t.notOk(JSON.stringify(config).includes(SECRET), 'JSON of the whole config')
    t.notOk(inspect(config, { depth: 10 }).includes(SECRET), 'util.inspect of the whole config')
    t.notOk(inspect(secret, { showHidden: true }).includes(SECRET), 'util.inspect with hidden fields')
    t.equal(secret?.reveal(), SECRET, 'reveal() is the only way')
  })
})

t.test('with no file and required settings missing, one problem says how to give a config', async (t) => {
  const err = loadError(t, { env: { OAC_PROXY_OAC_URL: 'https://oac.example.com' } })
  t.equal(err.code, 'config_invalid')
  const lines = problemLines(err)
  t.equal(lines.length, 1, 'one problem, not one per key')
  t.match(lines[0], /--config FILE/)
  t.match(lines[0], /OAC_PROXY_CONFIG/)
  for (const key of ['idcsUrl', 'clientId', 'scope']) t.match(lines[0], key, `names ${key}`)
  t.match(lines[0], 'OAC_PROXY_IDCS_URL', 'and its variable')
  t.notMatch(lines[0], 'oacUrl', 'not the one that is set')
  t.match(err.hint, /--config FILE/)
})

t.test('unknown OAC_PROXY_ variables are refused with a suggestion', async (t) => {
  const path = configFile(t)
  const err = loadError(t, {
    configPath: path,
    env: { OAC_PROXY_LOG_FORMT: 'json', OAC_PROXY_LISTEN_HOTS: '127.0.0.1', OAC_PROXY_ZZZ: '1' },
  })
  t.equal(err.code, 'config_invalid')
  t.same(problemLines(err), [
    '  - OAC_PROXY_LISTEN_HOTS is not a known variable (did you mean OAC_PROXY_LISTEN_HOST?) (env OAC_PROXY_LISTEN_HOTS)',
    '  - OAC_PROXY_LOG_FORMT is not a known variable (did you mean OAC_PROXY_LOG_FORMAT?) (env OAC_PROXY_LOG_FORMT)',
    '  - OAC_PROXY_ZZZ is not a known variable (see docs/configuration.md for the variables) (env OAC_PROXY_ZZZ)',
  ])
  t.notMatch(err.hint, path, 'the hint does not blame the file')
  t.match(err.hint, 'OAC_PROXY_LOG_FORMT')
})

t.test('the variables the program reads besides options are accepted', async (t) => {
  const path = configFile(t, [], { secret: 'abc\n' })
  const config = load({
    configPath: path,
    env: {
      OAC_PROXY_CONFIG: path,
      OAC_PROXY_CLIENT_SECRET_FILE: join(path, '..', 'secret'),
      OAC_PROXY_LOG_FORMAT: 'json',
    },
  })
  t.equal(config.log.format, 'json')
})

t.test('the hint names the source of the bad value: flag, variable or file', async (t) => {
  const good = configFile(t, [], { 'bad.yaml': [...REQUIRED, 'log:', '  level: loud', ''].join('\n') })
  const path = join(good, '..', 'bad.yaml')
  const fromFlag = loadError(t, { configPath: good, flags: { 'listen.host': '0.0.0.0' } })
  t.match(fromFlag.hint, 'the flag --host')
  t.notMatch(fromFlag.hint, 'config.yaml')
  const fromEnv = loadError(t, { configPath: good, env: { OAC_PROXY_LOG_FORMAT: 'prety' } })
  t.match(fromEnv.hint, 'the environment variable OAC_PROXY_LOG_FORMAT')
  t.notMatch(fromEnv.hint, 'config.yaml')
  const fromFile = loadError(t, { configPath: path })
  t.match(fromFile.hint, `Fix ${path} `)
  const both = loadError(t, { configPath: path, env: { OAC_PROXY_LOG_FORMAT: 'prety' } })
  t.match(both.hint, 'OAC_PROXY_LOG_FORMAT')
  t.match(both.hint, path)
})

t.test('a YAML syntax error shows the offending line with a caret under the column', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'oacUrl: https://oac.example.com\nscope: "unclosed\nclientId: x\n' })
  const err = loadError(t, { configPath: join(dir, 'config.yaml') })
  t.equal(err.code, 'config_unreadable')
  const lines = err.message.split('\n')
  const at = lines.findIndex((l) => /config\.yaml:\d+:\d+: /.test(l))
  t.ok(at > 0, 'a file:line:col line')
  t.notMatch(lines[at], /at line \d+, column \d+/, 'the position is not repeated')
  const [, line, col] = /:(\d+):(\d+): /.exec(lines[at] as string) as RegExpExecArray
  const excerpt = lines.slice(at + 1)
  const offending = excerpt.find((l) => l.trimStart().startsWith(`${line} |`))
  t.ok(offending, 'the offending line is shown with its number')
  const caret = excerpt.at(-1) as string
  t.match(caret, /^\s+\| +\^$/, 'a caret line closes the excerpt')
  t.equal(caret.indexOf('^') - caret.indexOf('|') - 2, Number(col) - 1, 'the caret is under the column')
})

t.test('a YAML excerpt never shows an inline secret', async (t) => {
  const secret = 'inline-Secret-Value-0123456789-abcdefghijklmnop'
  registerSecret(secret)
  const dir = t.testdir({
    'config.yaml': `oacUrl: https://oac.example.com\nclientSecret: ${secret}\n  bad: [\n`,
  })
  const err = loadError(t, { configPath: join(dir, 'config.yaml') })
  t.equal(err.code, 'config_unreadable')
  t.notMatch(err.message, secret)
  t.notMatch(err.message, 'inline-Secret')
  t.match(err.message, /clientSecret: \*+/)
})
