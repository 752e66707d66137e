// The option table and the schema built from it: one problem per key, a closed shape, unique env names.
import t from 'tap'
import { buildSchema, checkSchema } from '../../src/config/schema.js'
import { ENV_PREFIX, envName, OPTIONS } from '../../src/config/options.js'

const VALID = {
  oacUrl: 'https://oac.example.com',
  idcsUrl: 'https://idcs.example.com',
  clientId: 'my-client',
  scope: 'scope offline_access',
}

t.test('a config with only the required keys is valid', async (t) => {
  t.same(checkSchema(VALID), [])
})

t.test('every default satisfies the schema', async (t) => {
  const tree: Record<string, unknown> = { ...VALID }
  for (const spec of OPTIONS.filter((o) => o.default !== undefined)) {
    const parts = spec.path.split('.')
    let node = tree
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>
    node[parts[parts.length - 1] as string] = spec.default
  }
  t.same(checkSchema(tree), [])
})

t.test('every option has a description', async (t) => {
  const missing = OPTIONS.filter((o) => typeof o.description !== 'string' || o.description.trim().length < 10)
  t.same(
    missing.map((o) => o.path),
    [],
  )
})

t.test('every option has its own env name, including the _FILE variants of secrets', async (t) => {
  const names = OPTIONS.flatMap((o) =>
    o.type === 'secret' ? [envName(o.path), `${envName(o.path)}_FILE`] : [envName(o.path)],
  )
  t.equal(new Set(names).size, names.length)
  t.ok(
    names.every((n) => n.startsWith(ENV_PREFIX) && /^[A-Z0-9_]+$/.test(n)),
    'all upper-case OAC_PROXY_*',
  )
})

t.test('env names split camelCase and dots', async (t) => {
  t.equal(envName('oacUrl'), 'OAC_PROXY_OAC_URL')
  t.equal(envName('listen.port'), 'OAC_PROXY_LISTEN_PORT')
  t.equal(envName('token.refreshAheadRatio'), 'OAC_PROXY_TOKEN_REFRESH_AHEAD_RATIO')
})

t.test('every flag is unique', async (t) => {
  const flags = OPTIONS.filter((o) => o.flag).map((o) => o.flag)
  t.equal(new Set(flags).size, flags.length)
})

t.test('option paths are unique', async (t) => {
  const paths = OPTIONS.map((o) => o.path)
  t.equal(new Set(paths).size, paths.length)
})

t.test('the schema is closed at every level', async (t) => {
  const open: string[] = []
  const walk = (node: Record<string, unknown>, path: string): void => {
    if (node.type !== 'object' || node.properties === undefined) return
    if (node.additionalProperties !== false) open.push(path || '(root)')
    for (const [k, v] of Object.entries(node.properties as Record<string, Record<string, unknown>>)) {
      walk(v, path ? `${path}.${k}` : k)
    }
  }
  walk(buildSchema(), '')
  t.same(open, [])
})

t.test('the required keys are the options marked required', async (t) => {
  t.same(
    checkSchema({}),
    OPTIONS.filter((o) => o.required).map((o) => ({ key: o.path, problem: 'is required' })),
  )
})

t.test('an unknown key', async (t) => {
  t.same(checkSchema({ ...VALID, listn: 1 }), [{ key: 'listn', problem: 'unknown key' }])
})

t.test('an unknown nested key', async (t) => {
  t.same(checkSchema({ ...VALID, token: { refreshRatio: 0.5 } }), [
    { key: 'token.refreshRatio', problem: 'unknown key' },
  ])
})

t.test('a wrong type', async (t) => {
  t.same(checkSchema({ ...VALID, listen: { port: '80' } }), [{ key: 'listen.port', problem: 'must be an integer' }])
})

t.test('a fraction where an integer is expected', async (t) => {
  t.same(checkSchema({ ...VALID, proxy: { connections: 1.5 } }), [
    { key: 'proxy.connections', problem: 'must be an integer' },
  ])
})

t.test('a scalar where a section is expected', async (t) => {
  t.same(checkSchema({ ...VALID, listen: 8080 }), [{ key: 'listen', problem: 'must be an object' }])
})

t.test('a value outside the enum', async (t) => {
  t.same(checkSchema({ ...VALID, log: { level: 'loud' } }), [
    { key: 'log.level', problem: 'must be one of fatal, error, warn, info, debug, trace, silent' },
  ])
})

t.test('below the minimum', async (t) => {
  t.same(checkSchema({ ...VALID, token: { refreshAheadRatio: 0 } }), [
    { key: 'token.refreshAheadRatio', problem: 'must be >= 0.05' },
  ])
})

t.test('above the maximum', async (t) => {
  t.same(checkSchema({ ...VALID, listen: { port: 65536 } }), [{ key: 'listen.port', problem: 'must be <= 65535' }])
})

t.test('an empty string', async (t) => {
  t.same(checkSchema({ ...VALID, clientId: '' }), [{ key: 'clientId', problem: 'must not be empty' }])
})

t.test('a secret may be a string or an object with exactly one source', async (t) => {
  for (const clientSecret of ['inline', { value: 'v' }, { env: 'NAME' }, { file: 'path' }]) {
    t.same(checkSchema({ ...VALID, clientSecret }), [], JSON.stringify(clientSecret))
  }
})

t.test('a secret with two sources gets the secret-shape message', async (t) => {
  t.same(checkSchema({ ...VALID, clientSecret: { value: 'v', env: 'NAME' } }), [
    { key: 'clientSecret', problem: 'must be a string, or an object with exactly one of value, env or file' },
  ])
})

t.test('a secret with an unknown source gets the secret-shape message', async (t) => {
  t.same(checkSchema({ ...VALID, refreshToken: { path: 'x' } }), [
    { key: 'refreshToken', problem: 'must be a string, or an object with exactly one of value, env or file' },
  ])
})

t.test('several problems: one per key, all at once', async (t) => {
  const problems = checkSchema({
    oacUrl: 'https://oac.example.com',
    idcsUrl: 'https://idcs.example.com',
    scope: 's',
    listn: 1,
    listen: { port: 'eighty' },
    log: { level: 'loud' },
  })
  t.same(problems.map((p) => p.key).sort(), ['clientId', 'listen.port', 'listn', 'log.level'])
})
