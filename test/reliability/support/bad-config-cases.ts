// The bad-config suite's cases: malformed configurations of every kind, each with what stderr must name.
import {
  ADMIN,
  baseConfig,
  baseLines,
  jwtBearer,
  secretValue,
  withAdmin,
  withValue,
  type BadConfig,
  type Tree,
} from './bad-config-base.js'

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

type More = Pick<BadConfig, 'yamlLines' | 'secrets' | 'files' | 'modes'>
type Add = (kind: string, name: string, config: BadConfig['config'], expect: string[], more?: More) => void

/** Wrong types, at several depths (the most telling first: the short run takes the first few). */
function wrongTypeCases(add: Add): void {
  const inline = secretValue('inline-secret')
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
}

/** Unknown keys at several depths. */
function unknownKeyCases(add: Add): void {
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
}

/** Missing required keys. */
function missingKeyCases(add: Add): void {
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
}

/** Secrets and files pointing at missing files. */
function missingFileCases(add: Add): void {
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
}

/** Files that exist but cannot be used. */
function unreadableCases(add: Add): void {
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
}

/** Bad YAML: stderr names the file and the line where the parser noticed the problem. */
function badYamlCases(add: Add): void {
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
}

/** Bad URLs, bad enum values and out-of-range numbers. */
function badValueCases(add: Add): void {
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
}

/** A config that is not a mapping, and the checks between keys. */
function badShapeCases(add: Add): void {
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
}

/** Every kind, in the order the cases are generated (and the short run counts them). */
const KINDS = [
  wrongTypeCases,
  unknownKeyCases,
  missingKeyCases,
  missingFileCases,
  unreadableCases,
  badYamlCases,
  badValueCases,
  badShapeCases,
]

/** Generates the malformed configurations: all of them, or (short) the first few of each kind. */
export function badConfigCases(short = false): BadConfig[] {
  const cases: BadConfig[] = []
  const add: Add = (kind, name, config, expect, more = {}) => {
    cases.push({ kind, name: `${kind}: ${name}`, config, expect, ...more })
  }
  for (const kind of KINDS) kind(add)
  if (!short) return cases
  const taken = new Map<string, number>()
  return cases.filter((c) => {
    const n = taken.get(c.kind) ?? 0
    taken.set(c.kind, n + 1)
    return n < (SHORT_RUN[c.kind] ?? 0)
  })
}
