// A configuration file holding an inline secret follows the secret-file permission policy.
import t, { type Test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'

function configDir(t: Test, tree: Record<string, unknown>, mode: number): string {
  const dir = t.testdir({})
  const path = join(dir, 'config.yaml')
  writeFileSync(
    path,
    stringify({
      oacUrl: 'https://oac.example.com',
      idcsUrl: 'https://idcs.example.com',
      clientId: 'c',
      scope: 's',
      ...tree,
    }),
  )
  chmodSync(path, mode)
  return path
}

const PEM = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })

const INLINE: Array<[string, Record<string, unknown>]> = [
  ['clientSecret', { clientSecret: 'inline-client-secret-1234' }],
  ['clientSecret', { clientSecret: { value: 'inline-client-secret-1234' } }],
  ['password', { grant: 'password', username: 'u', password: 'inline-password-1234', clientSecret: { env: 'CS' } }],
  ['refreshToken', { refreshToken: 'inline-refresh-token-1234' }],
  [
    'privateKey',
    {
      grant: 'jwt_bearer',
      username: 'u',
      keyId: 'k',
      clientSecret: { env: 'CS' },
      privateKey: PEM,
    },
  ],
  [
    'store.password',
    { store: { url: 'redis://127.0.0.1:6379', encryption: 'none', password: 'inline-redis-pw-1234' } },
  ],
  [
    'store.encryptionKey',
    { store: { url: 'redis://127.0.0.1:6379', encryptionKey: 'inline-encryption-key-0123456789abcdef' } },
  ],
  ['store.url (its password)', { store: { url: 'redis://:inline-redis-pw-1234@127.0.0.1:6379', encryption: 'none' } }],
  [
    'credentials.admin.clientSecret',
    {
      credentials: {
        admin: { clientId: 'a', scope: 's', grant: 'client_credentials', clientSecret: 'inline-admin-secret-1234' },
      },
    },
  ],
]

t.test('an inline secret in a config file readable by group or others is refused', async (t) => {
  for (const [key, tree] of INLINE) {
    for (const mode of [0o644, 0o640, 0o604]) {
      const configPath = configDir(t, tree, mode)
      t.throws(
        () => loadConfig({ configPath, env: { CS: 'x'.repeat(16) } }),
        {
          code: 'secret_unreadable',
          message: new RegExp(
            `${key.replace(/[.()]/g, '\\$&')} is inline in the configuration file .*config\\.yaml, which is readable by group or others \\(mode 0${mode.toString(8)}\\); run: chmod 600`,
          ),
        },
        `${key} ${mode.toString(8)}`,
      )
    }
  }
})

t.test('the same file with mode 0600, or secrets by reference in a 0644 file, is accepted', async (t) => {
  for (const [key, tree] of INLINE) {
    const configPath = configDir(t, tree, 0o600)
    t.doesNotThrow(() => loadConfig({ configPath, env: { CS: 'x'.repeat(16) } }), key)
  }
  const configPath = configDir(t, { clientSecret: { env: 'CS' } }, 0o644)
  t.doesNotThrow(() => loadConfig({ configPath, env: { CS: 'x'.repeat(16) } }))
})

t.test('with secretFilePermissions: warn it loads and warns', async (t) => {
  const configPath = configDir(
    t,
    { clientSecret: 'inline-client-secret-1234', security: { secretFilePermissions: 'warn' } },
    0o644,
  )
  const config = loadConfig({ configPath, env: {} })
  t.match(config.warnings, [/clientSecret is inline in the configuration file .*\(mode 0644\)/])
  t.notMatch(config.warnings.join('\n'), 'inline-client-secret-1234', 'the warning names the key, not the value')
})
