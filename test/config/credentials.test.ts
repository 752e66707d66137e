// Credentials and routes in the config: inheritance, client-auth choice, and errors that name the key.
import t, { type Test } from 'tap'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'

const BASE = {
  oacUrl: 'https://oac.example.com',
  idcsUrl: 'https://idcs.example.com',
  clientId: 'oac-client',
  scope: 'https://aud.example.comurn:opc:resource:consumer::all offline_access',
}

function load(t: Test, extra: Record<string, unknown>, files: Record<string, string> = {}) {
  const dir = t.testdir({ 'config.yaml': stringify({ ...BASE, ...extra }), ...files })
  return loadConfig({ configPath: `${dir}/config.yaml`, env: {} })
}

t.test('a named credential inherits idcsUrl and gets its own route; / goes to OAC last', async (t) => {
  const config = load(
    t,
    {
      credentials: {
        admin: {
          clientId: 'admin-client',
          clientSecret: { file: 's' },
          grant: 'client_credentials',
          scope: 'urn:opc:idm:__myscopes__',
        },
      },
      routes: [
        { prefix: '/idcs/', upstream: 'https://idcs.example.com/', credential: 'admin' },
        { prefix: '/idcs/long/', upstream: 'https://other.example.com', credential: 'admin' },
      ],
    },
    { s: 'admin-secret\n' },
  )
  t.same(
    config.credentials.map((c) => [c.name, c.idcsUrl, c.clientAuth, c.grant]),
    [
      ['default', 'https://idcs.example.com', 'none', 'refresh_token'],
      ['admin', 'https://idcs.example.com', 'client_secret_basic', 'client_credentials'],
    ],
  )
  t.equal(config.credentials[1]?.clientSecret?.reveal(), 'admin-secret')
  t.same(
    config.routes.map((r) => [r.prefix, r.upstream, r.credential]),
    [
      ['/idcs/long/', 'https://other.example.com', 'admin'],
      ['/idcs/', 'https://idcs.example.com', 'admin'],
      ['/', 'https://oac.example.com', 'default'],
    ],
  )
})

t.test('clientAuth auto: basic with a secret, private_key_jwt with only a key, none otherwise', async (t) => {
  t.equal(load(t, { clientSecret: 'x' }).credentials[0]?.clientAuth, 'client_secret_basic')
  t.equal(load(t, {}).credentials[0]?.clientAuth, 'none')
})

t.test('unknown keys inside a credential are named with their path', async (t) => {
  t.throws(() => load(t, { credentials: { admin: { clientId: 'a', scope: 's', secret: 'x' } } }), {
    code: 'config_invalid',
    message: /credentials\.admin\.secret is an unknown key/,
  })
})

t.test('a credential needs clientId and scope', async (t) => {
  t.throws(() => load(t, { credentials: { admin: { grant: 'client_credentials' } } }), {
    code: 'config_invalid',
    message: /credentials\.admin\.clientId is required[\s\S]*credentials\.admin\.scope is required/,
  })
})

t.test('a bad credential name is refused', async (t) => {
  t.throws(() => load(t, { credentials: { 'bad name!': { clientId: 'a', scope: 's' } } }), {
    code: 'config_invalid',
    message: /invalid credential name/,
  })
})

t.test("'default' is reserved for the top-level credential", async (t) => {
  t.throws(() => load(t, { credentials: { default: { clientId: 'a', scope: 's' } } }), {
    code: 'config_invalid',
    message: /'default' is the top-level credential/,
  })
})

t.test('client_secret_post without a secret and client_credentials on a public client are refused', async (t) => {
  t.throws(() => load(t, { clientAuth: 'client_secret_post', grant: 'client_credentials' }), {
    code: 'config_invalid',
    message: /clientSecret is required for clientAuth client_secret_post/,
  })
  t.throws(() => load(t, { grant: 'client_credentials' }), {
    code: 'config_invalid',
    message: /client_credentials needs a confidential client/,
  })
})
