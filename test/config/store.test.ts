// The store section: a Redis by URL or Sentinel, its secrets, the encryption key or the explicit opt-out; every mistake named.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { loadConfig } from '../../src/config/load.js'
import { ProxyError } from '../../src/shared/errors.js'
import { registerSecret } from '../helpers.js'

const REQUIRED = [
  'oacUrl: https://oac.example.com',
  'idcsUrl: https://idcs.example.com',
  'clientId: my-client',
  'scope: "https://aud.example.comurn:opc:resource:consumer::all offline_access"',
]

const KEY = randomBytes(32).toString('base64')
registerSecret(KEY)

function configFile(t: Test, extra: string[], files: Record<string, unknown> = {}): string {
  const dir = t.testdir({ 'config.yaml': [...REQUIRED, ...extra, ''].join('\n'), ...files })
  return join(dir, 'config.yaml')
}

function problems(t: Test, extra: string[], files: Record<string, unknown> = {}, env = {}): string {
  try {
    loadConfig({ configPath: configFile(t, extra, files), env })
  } catch (err) {
    t.type(err, ProxyError)
    return (err as ProxyError).message
  }
  t.fail('the config was accepted')
  return ''
}

t.test('no store section: the state file, store undefined', async (t) => {
  t.equal(loadConfig({ configPath: configFile(t, []), env: {} }).store, undefined)
})

t.test('store.url with an encryption key file: a store with defaults', async (t) => {
  const config = loadConfig({
    configPath: configFile(t, ['store:', '  url: redis://redis:6379/0', '  encryptionKey: { file: store.key }'], {
      'store.key': KEY,
    }),
    env: {},
  })
  t.equal(config.store?.url, 'redis://redis:6379/0')
  t.equal(config.store?.encryptionKey?.reveal(), KEY)
  t.equal(config.store?.keyPrefix, 'oac-token-proxy')
  t.equal(config.store?.encryption, 'required')
  t.equal(config.store?.lockWaitMs, 10_000)
  t.equal(config.store?.commandTimeoutMs, 2_000)
  t.equal(config.store?.connectTimeoutMs, 5_000)
})

t.test('store.url from the environment, the key from an environment variable', async (t) => {
  const config = loadConfig({
    configPath: configFile(t, ['store:', '  encryptionKey: { env: STORE_KEY }']),
    env: { OAC_PROXY_STORE_URL: 'rediss://redis:6380', STORE_KEY: KEY },
  })
  t.equal(config.store?.url, 'rediss://redis:6380')
  t.equal(config.store?.encryptionKey?.reveal(), KEY)
})

t.test('Sentinel: master name, nodes and the sentinels password', async (t) => {
  const config = loadConfig({
    configPath: configFile(
      t,
      [
        'store:',
        '  sentinel:',
        '    masterName: mymaster',
        "    nodes: ['s1:26379', 's2']",
        '    password: { file: sentinel.pw }',
        '  encryption: none',
      ],
      { 'sentinel.pw': 'sentinel-secret-pw' },
    ),
    env: {},
  })
  t.same(config.store?.sentinel?.nodes, ['s1:26379', 's2'])
  t.equal(config.store?.sentinel?.password?.reveal(), 'sentinel-secret-pw')
  t.equal(config.store?.encryption, 'none')
})

t.test('each mistake is named with its fix, and no secret is shown', async (t) => {
  const cases: Array<[string, string[], Record<string, unknown>, RegExp]> = [
    [
      'no key',
      ['store:', '  url: redis://r:6379'],
      {},
      /store\.encryptionKey is required .*openssl rand -base64 32.*store\.encryption: none/,
    ],
    [
      'key and none',
      ['store:', '  url: redis://r:6379', '  encryption: none', `  encryptionKey: { file: k }`],
      { k: KEY },
      /store\.encryption is none but store\.encryptionKey is set/,
    ],
    [
      'url and sentinel',
      ['store:', '  url: redis://r:6379', '  encryption: none', '  sentinel: { masterName: m, nodes: [s1] }'],
      {},
      /store\.url and store\.sentinel are exclusive/,
    ],
    [
      'sentinel without nodes',
      ['store:', '  encryption: none', '  sentinel: { masterName: m }'],
      {},
      /store\.sentinel\.nodes: list the sentinels as host:port/,
    ],
    [
      'store keys without a Redis',
      ['store:', '  encryptionKey: { file: k }'],
      { k: KEY },
      /store: set store\.url .* or remove the store section/,
    ],
    [
      'missing key file',
      ['store:', '  url: redis://r:6379', '  encryptionKey: { file: missing.key }'],
      {},
      /store\.encryptionKey: cannot read file .*missing\.key \(ENOENT\)/,
    ],
    ['not a redis URL', ['store:', '  url: http://r:6379', '  encryption: none'], {}, /store\.url/],
    [
      'unknown store key',
      ['store:', '  url: redis://r:6379', '  encryption: none', '  lockWait: 3'],
      {},
      /store\.lockWait.*lockWaitSeconds|lockWait/,
    ],
    ['bad encryption value', ['store:', '  url: redis://r:6379', '  encryption: off'], {}, /store\.encryption/],
  ]
  for (const [name, extra, files, expected] of cases) {
    const message = problems(t, extra, files)
    t.match(message, expected, name)
    t.notMatch(message, KEY, `${name}: the key is not shown`)
  }
})

t.test('a password written into store.url never shows in an error', async (t) => {
  const message = problems(t, [
    'store:',
    '  url: redis://proxy:url-pass-9d2f1c@r:6379',
    '  encryptionKey: { file: nope }',
  ])
  t.notMatch(message, 'url-pass-9d2f1c')
})
