// The documentation cannot drift from the code: every option, env var and error code is documented.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { envName, OPTIONS } from '../src/config/options.js'
import { ERROR_CODES } from '../src/shared/errors.js'

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')

t.test('docs/configuration.md lists every option with its env var and default', async (t) => {
  const doc = read('docs/configuration.md')
  for (const o of OPTIONS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${o.path}\` |`))
    t.ok(row, `${o.path} has a row`)
    if (!o.noEnv) t.match(row, envName(o.path), `${o.path} names ${envName(o.path)}`)
    if (o.default !== undefined) t.match(row, `\`${o.default}\``, `${o.path} shows its default`)
  }
  const rows = doc.split('\n').filter((l) => /^\| `[a-zA-Z.]+` \|/.test(l))
  t.equal(rows.length, OPTIONS.length, 'no row for an option that does not exist')
})

t.test('docs/errors.md lists every error code', async (t) => {
  const doc = read('docs/errors.md')
  for (const code of Object.keys(ERROR_CODES)) t.match(doc, `| \`${code}\` |`, `${code} is documented`)
})

t.test('config.example.yaml shows every option: the defaults set, the others in comments', async (t) => {
  const text = read('config.example.yaml')
  const example = parse(text) as Record<string, unknown>
  for (const o of OPTIONS) {
    const value = o.path.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown>)?.[k], example)
    if (o.default !== undefined) t.equal(value, o.default, `${o.path} example shows the default`)
    else {
      const leaf = o.path.split('.').pop() as string
      t.match(text, new RegExp(`^\\s*#?\\s*${leaf}:`, 'm'), `${o.path} appears in the example`)
    }
  }
})

t.test('config.example.yaml loads once its secret files exist', async (t) => {
  const { loadConfig } = await import('../src/config/load.js')
  const dir = t.testdir({
    'config.yaml': read('config.example.yaml'),
    'client-secret': 'example-secret\n',
    'tokens.json': JSON.stringify({ access_token: 'a', refresh_token: 'example-refresh' }),
  })
  const config = loadConfig({ configPath: `${dir}/config.yaml`, env: {} })
  t.equal(config.listen.port, 8787)
  t.equal(config.refreshToken?.reveal(), 'example-refresh')
  t.equal(config.clientSecret?.reveal(), 'example-secret')
})
