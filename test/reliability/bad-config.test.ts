// Reliability suite, shared implementation: bad configs.
import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Test } from 'tap'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { CLI } from '../helpers.js'
import { bump, histogram, report } from './helpers.js'

// ---------------------------------------------------------------------------------------------------------------
// 4. Bad configurations: each refused by the built CLI with exit 2, naming the key, writing nothing, leaking nothing.
// ---------------------------------------------------------------------------------------------------------------

type Tree = Record<string, unknown>

export interface BadConfig {
  /** Which kind of defect (the short run takes the first few of each kind). */
  kind: string
  name: string
  /** The config as an object (written as YAML), or raw YAML text. */
  config: Tree | unknown[] | string
  /** Strings stderr must contain: the bad key, or CONFIG (the config file's path). */
  expect: string[]
  /** For YAML errors: stderr must say CONFIG:LINE:COLUMN with LINE in this range (where the parser noticed). */
  yamlLines?: [number, number]
  /** Secret values used in this config: neither stdout nor stderr may show them. */
  secrets?: string[]
  /** Extra files to create in the case directory. */
  files?: Record<string, string>
  /** File modes to set after creating the files. */
  modes?: Record<string, number>
}

/** Secret values the cases use; random per run so a hit cannot be a coincidence. */
function secretValue(label: string): string {
  return `${label}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
}

// loopback port 9 (discard): should a bad config be accepted by mistake, the proxy reaches nothing outside
const BASE_OAC = 'https://127.0.0.1:9'
const BASE_IDCS = 'https://localhost:9'
const BASE_SCOPE = 'https://oac-reliability.example.comurn:opc:resource:consumer::all offline_access'

function baseConfig(): Tree {
  return {
    oacUrl: BASE_OAC,
    idcsUrl: BASE_IDCS,
    clientId: 'reliability-client',
    clientSecret: { file: 'client-secret' },
    scope: BASE_SCOPE,
    refreshToken: { file: 'refresh-token' },
    stateFile: 'state.json',
    listen: { port: 0 },
  }
}

/** The same valid config as YAML lines; the YAML cases edit them, so the line numbers are known. */
function baseLines(): string[] {
  return [
    `oacUrl: ${BASE_OAC}`,
    `idcsUrl: ${BASE_IDCS}`,
    'clientId: reliability-client',
    'clientSecret: { file: client-secret }',
    `scope: "${BASE_SCOPE}"`,
    'refreshToken: { file: refresh-token }',
    'stateFile: state.json',
    'listen:',
    '  port: 0',
  ]
}

/** base with `path` (dotted; numeric parts index arrays) set to value, or removed when value is undefined. */
function withValue(path: string, value: unknown, base: Tree = baseConfig()): Tree {
  const tree = structuredClone(base)
  const parts = path.split('.')
  let node = tree as Record<string, unknown>
  for (const part of parts.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = {}
    node = node[part] as Record<string, unknown>
  }
  const leaf = parts[parts.length - 1] as string
  if (value === undefined) delete node[leaf]
  else node[leaf] = value
  return tree
}

const ADMIN = { clientId: 'admin-client', scope: 'urn:opc:idm:__myscopes__', clientSecret: { file: 'client-secret' } }
const ROUTE = { prefix: '/idcs/', upstream: BASE_IDCS, credential: 'admin' }
const withAdmin = (): Tree => ({ ...baseConfig(), credentials: { admin: { ...ADMIN } }, routes: [{ ...ROUTE }] })
const jwtBearer = (extra: Tree = {}): Tree => ({
  ...baseConfig(),
  grant: 'jwt_bearer',
  username: 'svc@example.com',
  keyId: 'alias',
  ...extra,
})

/** How many cases of each kind the short run takes (the long run takes them all). */
const SHORT_RUN: Record<string, number> = {
  'wrong type': 8,
  'unknown key': 7,
  missing: 6,
  'missing file': 5,
  unreadable: 6,
  'bad YAML': 14,
  'bad URL': 7,
  'bad enum': 4,
  'out of range': 6,
  'not a mapping': 2,
  'between keys': 4,
}

/** Generates the malformed configurations: all of them, or (short) the first few of each kind. */
function badConfigCases(short = false): BadConfig[] {
  const cases: BadConfig[] = []
  type More = Pick<BadConfig, 'yamlLines' | 'secrets' | 'files' | 'modes'>
  const add = (kind: string, name: string, config: BadConfig['config'], expect: string[], more: More = {}): void => {
    cases.push({ kind, name: `${kind}: ${name}`, config, expect, ...more })
  }
  const inline = secretValue('inline-secret')

  // wrong types, at several depths (the most telling first: the short run takes the first few)
  const wrongTypes: Array<[string, unknown, Tree?]> = [
    ['listen.port', 'eighty'],
    ['listen.tcp', 'yes'],
    ['token', 5],
    ['oacUrl', 123],
    ['security.allowedHosts', 'proxy.local'],
    ['credentials.admin.clientId', 7, withAdmin()],
    ['routes', { prefix: '/x/' }],
    ['clientSecret', 424242424242],
    ['idcsUrl', ['https://a.example.com']],
    ['clientId', { id: 'x' }],
    ['scope', 42],
    ['stateFile', false],
    ['listen', [1, 2]],
    ['listen.port', 1.5],
    ['listen.host', 127001],
    ['token.refreshAheadRatio', 'half'],
    ['token.backoffMaxSeconds', '60s'],
    ['proxy.replayBodyLimitBytes', '1MB'],
    ['log.requests', 'true'],
    ['security.allowNonLoopback', 1],
    ['login.headless', 'no'],
    ['admin.port', '9000'],
    ['access.readOnly', 'no'],
    ['credentials', ['admin']],
  ]
  add(
    'wrong type',
    'refreshToken is a list holding the secret',
    withValue('refreshToken', [inline]),
    ['refreshToken'],
    {
      secrets: [inline],
    },
  )
  for (const [path, value, base] of wrongTypes) {
    add('wrong type', `${path} = ${JSON.stringify(value)}`, withValue(path, value, base), [path])
  }

  // unknown keys at several depths
  const keySecret = secretValue('secret-as-key')
  add(
    'unknown key',
    'inside a secret reference (the key is the secret)',
    withValue('clientSecret', { [keySecret]: 'x' }),
    ['clientSecret'],
    { secrets: [keySecret] },
  )
  const unknown: Array<[string, Tree?]> = [
    ['listn'],
    ['listen.hots'],
    ['token.refreshAhead'],
    ['credentials.admin.clientSecretFile', withAdmin()],
    ['routes.0.upstreem', withAdmin()],
    ['clientSecret.path'],
    ['refreshtoken'],
    ['security.localKeyFile'],
    ['log.levle'],
    ['proxy.conections'],
    ['login.methd'],
    ['tls.ca'],
    ['admin.prt'],
    ['access.readonly'],
    ['routes.0.access.denyPath', withAdmin()],
  ]
  for (const [path, base] of unknown) {
    // a key inside a secret reference makes the whole reference wrong: the message names the secret's key
    const key = path.startsWith('clientSecret.') ? 'clientSecret' : path
    add('unknown key', path, withValue(path, 'x', base), [key])
  }

  // missing required keys
  for (const key of ['oacUrl', 'idcsUrl', 'clientId', 'scope']) add('missing', key, withValue(key, undefined), [key])
  add('missing', 'everything (empty file)', '', ['oacUrl', 'clientId'])
  add('missing', 'routes.0.credential', withValue('routes.0.credential', undefined, withAdmin()), [
    'routes.0.credential',
  ])
  add('missing', 'credentials.admin.scope', withValue('credentials.admin.scope', undefined, withAdmin()), [
    'credentials.admin.scope',
  ])
  add(
    'missing',
    'clientSecret for client_secret_post',
    withValue('clientAuth', 'client_secret_post', withValue('clientSecret', undefined)),
    ['clientSecret'],
  )
  const password = secretValue('password')
  add(
    'missing',
    'username for grant password (inline password)',
    { ...baseConfig(), grant: 'password', password },
    ['username'],
    { secrets: [password] },
  )
  add('missing', 'privateKey for grant jwt_bearer', jwtBearer(), ['privateKey'])

  // secrets pointing at missing files
  const missing: Array<[string, Tree, string]> = [
    ['clientSecret', withValue('clientSecret', { file: 'no-such-secret' }), 'clientSecret'],
    ['refreshToken', withValue('refreshToken', { file: 'missing/refresh-token' }), 'refreshToken'],
    ['clientSecret env', withValue('clientSecret', { env: 'OAC_RELIABILITY_UNSET_VARIABLE' }), 'clientSecret'],
    ['privateKey', jwtBearer({ privateKey: { file: 'no.pem' } }), 'privateKey'],
    [
      'credentials.admin.clientSecret',
      withValue('credentials.admin.clientSecret', { file: 'no-admin-secret' }, withAdmin()),
      'credentials.admin.clientSecret',
    ],
    [
      'password',
      { ...baseConfig(), grant: 'password', username: 'u@example.com', password: { file: 'no-password' } },
      'password',
    ],
    ['security.localKeysFile', withValue('security.localKeysFile', 'no-keys'), 'security.localKeysFile'],
    ['tls.caFile', withValue('tls.caFile', 'no-ca.pem'), 'tls.caFile'],
  ]
  for (const [what, config, key] of missing) add('missing file', what, config, [key])

  // unreadable (root reads a chmod 000 file anyway: a directory, or a path through a regular file, fails for root too)
  add('unreadable', 'clientSecret is a directory', withValue('clientSecret', { file: 'adir' }), ['clientSecret'])
  add(
    'unreadable',
    'refreshToken through a regular file',
    withValue('refreshToken', { file: 'client-secret/refresh-token' }),
    ['refreshToken'],
  )
  add('unreadable', 'security.localKeysFile is a directory', withValue('security.localKeysFile', 'adir'), [
    'security.localKeysFile',
  ])
  add('unreadable', 'tls.caFile through a regular file', withValue('tls.caFile', 'refresh-token/ca.pem'), [
    'tls.caFile',
  ])
  const loose = secretValue('loose')
  add(
    'unreadable',
    'clientSecret readable by others (0644)',
    withValue('clientSecret', { file: 'loose' }),
    ['clientSecret', 'chmod 600'],
    { files: { loose }, modes: { loose: 0o644 }, secrets: [loose] },
  )
  add('unreadable', 'privateKey is not PEM', jwtBearer({ privateKey: { file: 'k.pem' } }), ['privateKey'], {
    files: { 'k.pem': 'not a key at all' },
  })

  // bad YAML: stderr names the file and the line where the parser noticed the problem
  const yaml = (name: string, edit: (l: string[]) => string[], lines: [number, number], secrets?: string[]): void =>
    add('bad YAML', name, edit(baseLines()).join('\n') + '\n', ['CONFIG'], { yamlLines: lines, secrets })
  const q1 = secretValue('quoted')
  const q2 = secretValue('quoted')
  yaml('tab indentation', (l) => [...l.slice(0, 8), '\tport: 0'], [9, 9])
  yaml(
    'unclosed flow sequence',
    (l) => [...l.slice(0, 7), 'security:', '  allowedHosts: [a, b', ...l.slice(7)],
    [9, 10],
  )
  yaml('unclosed flow mapping', (l) => [...l.slice(0, 3), 'clientSecret: { file: x', ...l.slice(4)], [4, 5])
  yaml('duplicate top-level key', (l) => [...l, 'clientId: other-client'], [10, 10])
  yaml('duplicate nested key', (l) => [...l, '  port: 8080'], [10, 10])
  yaml(
    'unclosed double quote around a secret',
    (l) => [...l.slice(0, 3), `clientSecret: "${q1}`, ...l.slice(4)],
    [4, 4],
    [q1],
  )
  yaml(
    'unclosed single quote around a secret',
    (l) => [...l.slice(0, 3), `clientSecret: '${q2}`, ...l.slice(4)],
    [4, 10],
    [q2],
  )
  yaml('two values on one line', (l) => [...l.slice(0, 2), 'clientId: a: b', ...l.slice(3)], [3, 3])
  yaml('a list item inside a mapping', (l) => [...l, '- oops'], [10, 10])
  yaml('an alias to an undefined anchor', (l) => [...l.slice(0, 2), 'clientId: *nope', ...l.slice(3)], [3, 3])
  yaml('items at different columns', (l) => [...l, ' host: 127.0.0.1'], [10, 10])
  yaml('an invalid escape', (l) => [...l.slice(0, 2), 'clientId: "a\\qb"', ...l.slice(3)], [3, 3])
  yaml('two documents', (l) => [...l, '---', 'clientId: x'], [10, 11])
  // a billion-laughs alias bomb: refused as a YAML problem of the file (no single line to blame)
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]']
  for (const [name, prev] of [
    ['b', 'a'],
    ['c', 'b'],
    ['d', 'c'],
    ['e', 'd'],
    ['f', 'e'],
  ]) {
    bomb.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`)
  }
  add('bad YAML', 'an alias bomb (billion laughs)', [...baseLines(), ...bomb].join('\n') + '\n', ['CONFIG'])

  // bad URLs
  const urlSecret = secretValue('url-secret')
  const urls: Array<[string, string, string, Tree?]> = [
    ['no scheme', 'oacUrl', 'oac.example.com'],
    ['ftp://', 'oacUrl', 'ftp://oac.example.com'],
    ['http:// to a non-loopback host', 'oacUrl', 'http://oac.example.com'],
    ['with a query (holding a secret)', 'oacUrl', `https://oac.example.com/?token=${urlSecret}`],
    ['with credentials (a secret password)', 'idcsUrl', `https://user:${urlSecret}@idcs.example.com`],
    ['route upstream ftp://', 'routes.0.upstream', 'ftp://idcs.example.com', withAdmin()],
    ['credential idcsUrl without scheme', 'credentials.admin.idcsUrl', 'idcs.example.com', withAdmin()],
    ['http:// to a private address', 'idcsUrl', 'http://10.0.0.1'],
    ['with a fragment', 'idcsUrl', 'https://idcs.example.com/#x'],
    ['empty', 'oacUrl', ''],
  ]
  for (const [what, key, value, base] of urls) {
    add('bad URL', `${key} ${what}`, withValue(key, value, base), [key], { secrets: [urlSecret] })
  }

  // bad enums
  const enums: Array<[string, unknown]> = [
    ['log.level', 'verbose'],
    ['grant', 'authorization_code'],
    ['clientAuth', 'basic'],
    ['access.allowMethods', ['GET', 'FETCH']],
    ['log.format', 'yaml'],
    ['login.method', 'browserless'],
    ['security.secretFilePermissions', 'ignore'],
  ]
  for (const [key, value] of enums) {
    // a bad list item is named by its index
    const named = Array.isArray(value) ? `${key}.${value.length - 1}` : key
    add('bad enum', `${key} = ${JSON.stringify(value)}`, withValue(key, value), [named])
  }

  // out-of-range numbers
  const ranges: Array<[string, number]> = [
    // 31 years: Node cannot time anything out after more than 2^32 ms, so such a timeout cannot work
    ['token.idpTimeoutSeconds', 1e9],
    ['listen.port', 70000],
    ['token.refreshAheadRatio', 0.99],
    ['token.backoffMaxSeconds', Infinity],
    ['proxy.connections', 0],
    ['token.backoffInitialSeconds', 0],
    ['token.clockJumpSeconds', NaN],
    ['token.minLeadSeconds', -1],
    ['listen.port', -1],
    ['admin.port', 65536],
    ['login.redirectPort', 99999],
    ['token.refreshAheadRatio', 0.01],
    ['token.refreshJitterRatio', 0.6],
    ['token.idpTimeoutSeconds', 0.05],
    ['login.timeoutSeconds', 0],
  ]
  for (const [key, value] of ranges) add('out of range', `${key} = ${value}`, withValue(key, value), [key])

  // a config that is not a mapping
  add('not a mapping', 'a list', [baseConfig()], ['CONFIG', 'mapping'])
  add('not a mapping', 'a scalar', 'just some text\n', ['CONFIG', 'mapping'])

  // checks between keys
  add('between keys', 'listen.host not loopback without local keys', withValue('listen.host', '0.0.0.0'), [
    'listen.host',
  ])
  add('between keys', 'listen.tcp false and no socket', withValue('listen.tcp', false), ['listen.tcp'])
  add('between keys', 'route prefix under the admin prefix', withValue('routes.0.prefix', '/-/idcs/', withAdmin()), [
    'routes.0.prefix',
  ])
  add('between keys', 'route to an unknown credential', withValue('routes.0.credential', 'nobody', withAdmin()), [
    'routes.0.credential',
  ])
  add('between keys', 'credential name with spaces', { ...baseConfig(), credentials: { 'bad name!': { ...ADMIN } } }, [
    'credentials',
  ])
  add('between keys', 'credential named default', { ...baseConfig(), credentials: { default: { ...ADMIN } } }, [
    'credentials.default',
  ])
  add('between keys', 'route prefix without trailing slash', withValue('routes.0.prefix', '/idcs', withAdmin()), [
    'routes.0.prefix',
  ])
  add('between keys', 'socket mode not octal', withValue('listen.socketMode', '999'), ['listen.socketMode'])

  if (!short) return cases
  const taken = new Map<string, number>()
  return cases.filter((c) => {
    const n = taken.get(c.kind) ?? 0
    taken.set(c.kind, n + 1)
    return n < (SHORT_RUN[c.kind] ?? 0)
  })
}

interface CliResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

/**
 * `node dist/cli.js serve --config FILE` as a user runs it. tap puts its process-tracking loader into the
 * NODE_OPTIONS of every child it sees spawned; `env -u` takes it out again (it doubles the start-up time).
 */
function runCli(configPath: string, cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'env',
      ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'serve', '--config', configPath],
      { cwd, env: { PATH: process.env.PATH ?? '' }, timeout: 10_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown; signal?: string | null }) | null
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        })
      },
    )
    child.stdin?.end()
  })
}

/** Every path under dir (relative, with a trailing / for directories), sorted. */
function listTree(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name)
      const isDir = statSync(full).isDirectory()
      out.push(relative(dir, full) + (isDir ? '/' : ''))
      if (isDir) walk(full)
    }
  }
  walk(dir)
  return out.sort()
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

export interface BadConfigOptions {
  /** Only the first few cases of each kind. */
  short: boolean
  concurrency: number
}

export async function runBadConfigs(t: Test, opts: BadConfigOptions): Promise<void> {
  const root = t.testdir()
  const cases = badConfigCases(opts.short)
  const clientSecret = secretValue('client-secret')
  const refreshToken = secretValue('refresh-token')

  const prepare = (c: Pick<BadConfig, 'config' | 'files' | 'modes'>, name: string) => {
    const dir = join(root, name)
    mkdirSync(join(dir, 'adir'), { recursive: true })
    writeFileSync(join(dir, 'client-secret'), clientSecret, { mode: 0o600 })
    writeFileSync(join(dir, 'refresh-token'), refreshToken, { mode: 0o600 })
    for (const [file, content] of Object.entries(c.files ?? {}))
      writeFileSync(join(dir, file), content, { mode: 0o600 })
    for (const [file, mode] of Object.entries(c.modes ?? {})) chmodSync(join(dir, file), mode)
    const configPath = join(dir, 'config.yaml')
    writeFileSync(configPath, typeof c.config === 'string' ? c.config : stringify(c.config), { mode: 0o600 })
    return { dir, configPath }
  }

  // control: the unmodified base configuration is valid, so each case fails for its own defect
  const control = prepare({ config: baseConfig() }, 'control')
  t.doesNotThrow(
    () => loadConfig({ configPath: control.configPath, env: {}, cwd: control.dir }),
    'the base configuration is valid',
  )
  const controlYaml = prepare({ config: baseLines().join('\n') + '\n' }, 'control-yaml')
  t.doesNotThrow(
    () => loadConfig({ configPath: controlYaml.configPath, env: {}, cwd: controlYaml.dir }),
    'the base YAML text is valid',
  )

  const started = performance.now()
  const results = await mapLimit(cases, opts.concurrency, async (c, i) => {
    const { dir, configPath } = prepare(c, `case-${String(i).padStart(3, '0')}`)
    const before = listTree(dir)
    const r = await runCli(configPath, dir)
    const after = listTree(dir)
    const issues: string[] = []
    if (r.code !== 2) issues.push(`exit ${r.code ?? r.signal} (expected 2)`)
    for (const want of c.expect) {
      // a key must appear as itself (listen.port does not name listen), CONFIG as the file's path
      const named =
        want === 'CONFIG'
          ? r.stderr.includes(configPath)
          : new RegExp(`(^|[\\s'])${escapeRe(want)}([\\s:']|$)`, 'm').test(r.stderr)
      if (!named) issues.push(`stderr does not name ${JSON.stringify(want)}`)
    }
    if (c.yamlLines) {
      const [lo, hi] = c.yamlLines
      const lines = [...r.stderr.matchAll(/config\.yaml:(\d+):\d+/g)].map((m) => Number(m[1]))
      if (!lines.some((n) => n >= lo && n <= hi)) issues.push(`stderr names no line ${lo}..${hi} of the file`)
    }
    for (const secret of [clientSecret, refreshToken, ...(c.secrets ?? [])]) {
      if ((r.stdout + r.stderr).includes(secret)) issues.push('printed a secret value')
    }
    for (const f of ['state.json', 'state.json.lock', 'oac-token-proxy.state.json']) {
      if (existsSync(join(dir, f))) issues.push(`created ${f}`)
    }
    if (after.join('\n') !== before.join('\n')) {
      issues.push(
        `files changed: +${after.filter((f) => !before.includes(f))} -${before.filter((f) => !after.includes(f))}`,
      )
    }
    return { c, r, issues }
  })
  const seconds = (performance.now() - started) / 1000
  if (process.env.SOAK_CONFIG_LOG) {
    const log = results.map(({ c, r, issues }) => ({ name: c.name, code: r.code, stderr: r.stderr, issues }))
    writeFileSync(process.env.SOAK_CONFIG_LOG, JSON.stringify(log, null, 2))
  }
  const refused = results.filter((x) => x.issues.length === 0).length
  const byCode = new Map<string, number>()
  for (const { r } of results) bump(byCode, /oac-token-proxy: ([a-z_]+):/.exec(r.stderr)?.[1] ?? 'other')
  const kinds = new Map<string, number>()
  for (const c of cases) bump(kinds, c.kind)

  report(
    t,
    `bad configs tried: ${cases.length}, all refused: ${refused} (exit 2 naming the key or file:line, nothing ` +
      `written, no secret shown) in ${seconds.toFixed(1)} s; errors: ${histogram(byCode)}`,
  )
  report(t, `bad configs by kind: ${histogram(kinds)}`)
  t.ok(cases.length >= 60, `at least 60 cases generated (${cases.length})`)
  for (const { c, r, issues } of results) {
    if (issues.length > 0) t.fail(`${c.name}: ${issues.join('; ')}`, { stderr: r.stderr })
  }
  t.equal(refused, cases.length, 'every bad configuration was refused cleanly')
  const codes = ['config_invalid', 'config_unreadable', 'secret_unreadable']
  t.same(
    [...byCode.keys()].filter((k) => !codes.includes(k)),
    [],
    `every refusal carries a config error code (${codes.join(', ')})`,
  )
}
