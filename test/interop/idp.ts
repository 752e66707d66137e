// node-oidc-provider set up like IDCS (paths, RS256 JWT access tokens, rotation with reuse revoking the grant, 100 s
// tokens), an OAC stand-in that verifies every token against its JWKS, and the proxy between them.
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRemoteJWKSet, exportJWK, jwtVerify } from 'jose'
import Provider, { interactionPolicy } from 'oidc-provider'
import type { Test } from 'tap'
import { request } from 'undici'
import type { Clock } from '../../src/shared/clock.js'
import { loadConfig } from '../../src/config/load.js'
import type { ProxyConfig } from '../../src/config/types.js'
import { login } from '../../src/cli/login.js'
import { startProxy, type RunningProxy } from '../../src/app/run.js'
import { MemoryStore } from '../../src/token/store/memory.js'
import type { TokenStore } from '../../src/token/store/types.js'
import { LogCapture, registerSecret } from '../helpers.js'

/** The OAC application's audience; the scope is IDCS's consumer scope on it. */
export const OAC_AUDIENCE = 'https://oac-interop.analytics.ocp.oraclecloud.com'
export const OAC_SCOPE = 'urn:opc:resource:consumer::all'
export const SCOPE = `${OAC_SCOPE} offline_access`
export const ACCESS_TOKEN_LIFETIME_S = 100
export const USER = 'alice@example.com'
export const CLIENT_SECRET = 'interop-client-secret-3f9a1c'
registerSecret(CLIENT_SECRET)

/** One client per authentication method, each allowed every grant the proxy uses. */
export const CLIENTS = {
  none: 'proxy-public',
  client_secret_basic: 'proxy-basic',
  client_secret_post: 'proxy-post',
  private_key_jwt: 'proxy-jwt',
} as const
export type AuthMethod = keyof typeof CLIENTS

const USER_GRANTS = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code']

/** What the token endpoint does with the next calls (after the provider has processed them, for delay and drop). */
export type TokenFault =
  | { kind: 'down' } // connection reset before the provider sees the request (an outage)
  | { kind: 'delay'; ms: number } // processed (rotated) at once, answered ms later on the clock
  | { kind: 'drop' } // processed (rotated), then the connection is dropped without an answer

export interface Idp {
  issuer: string
  tokenEndpoint: string
  provider: Provider
  /** RSA key whose public half is registered for the private_key_jwt client. */
  clientKeyPem: string
  /** Token endpoint calls: grant type and outcome status (0: no answer). */
  tokenCalls: Array<{ grantType: string; status: number }>
  /** Applied to every token call while set. */
  fault: TokenFault | undefined
  /** Applied to the next token call only (before `fault`). */
  nextFaults: TokenFault[]
  close(): Promise<void>
}

export interface Oac {
  url: string
  /** Requests verified, and those refused (bad, expired or missing token). */
  accepted: number
  refused: number
  close(): Promise<void>
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

export interface IdpOptions {
  /** false: the server does not take prompt=consent (unsupported prompt value), as some servers answer. */
  consentRequestable?: boolean
}

/** Starts node-oidc-provider behind a thin server that can inject token-endpoint faults on `clock`. */
export async function startIdp(t: Test, clock: Clock, options: IdpOptions = {}): Promise<Idp> {
  const server = createServer()
  const port = await listen(server)
  const issuer = `http://127.0.0.1:${port}`
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const client = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const signingJwk = { ...(await exportJWK(signing.privateKey)), kid: 'interop-signing', alg: 'RS256', use: 'sig' }
  const clientJwk = { ...(await exportJWK(client.publicKey)), kid: 'proxy-jwt-key', alg: 'RS256', use: 'sig' }
  const redirect = ['http://127.0.0.1/callback']
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENTS.none,
        token_endpoint_auth_method: 'none',
        application_type: 'native',
        grant_types: USER_GRANTS,
        response_types: ['code'],
        redirect_uris: redirect,
      },
      ...(['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const).map((method) => ({
        client_id: CLIENTS[method],
        token_endpoint_auth_method: method,
        application_type: 'native' as const,
        grant_types: [...USER_GRANTS, 'client_credentials'],
        response_types: ['code' as const],
        redirect_uris: redirect,
        ...(method === 'private_key_jwt'
          ? { jwks: { keys: [clientJwk] }, token_endpoint_auth_signing_alg: 'RS256' as const }
          : { client_secret: CLIENT_SECRET }),
      })),
    ],
    // IDCS's paths
    routes: {
      authorization: '/oauth2/v1/authorize',
      token: '/oauth2/v1/token',
      device_authorization: '/oauth2/v1/device',
      code_verification: '/ui/v1/device',
      jwks: '/admin/v1/SigningCert/jwk',
      revocation: '/oauth2/v1/revoke',
      userinfo: '/oauth2/v1/userinfo',
      end_session: '/oauth2/v1/userlogout',
      pushed_authorization_request: '/oauth2/v1/par',
      introspection: '/oauth2/v1/introspect',
    },
    jwks: { keys: [signingJwk] },
    scopes: ['openid', 'offline_access', OAC_SCOPE],
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OAC_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: OAC_SCOPE,
          audience: OAC_AUDIENCE,
          accessTokenTTL: ACCESS_TOKEN_LIFETIME_S,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    // IDCS rotates refresh tokens; presenting a rotated one revokes the whole grant
    rotateRefreshToken: true,
    ttl: { AccessToken: ACCESS_TOKEN_LIFETIME_S, ClientCredentials: ACCESS_TOKEN_LIFETIME_S, RefreshToken: 7 * 86_400 },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      ...(options.consentRequestable === false ? { policy: withoutRequestableConsent() } : {}),
    },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  })
  const tokenCalls: Idp['tokenCalls'] = []
  const idp: Idp = {
    issuer,
    tokenEndpoint: `${issuer}/oauth2/v1/token`,
    provider,
    clientKeyPem: client.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    tokenCalls,
    fault: undefined,
    nextFaults: [],
    close: () => closeServer(server),
  }
  registerSecret(idp.clientKeyPem)
  const callback = provider.callback()
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path.startsWith('/interaction/')) {
      void finishInteraction(provider, req, res)
      return
    }
    if (req.method === 'POST' && path === '/oauth2/v1/token') {
      const call = { grantType: '', status: 0 }
      tokenCalls.push(call)
      const fault = idp.nextFaults.shift() ?? idp.fault
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => (call.grantType = new URLSearchParams(body).get('grant_type') ?? ''))
      if (fault?.kind === 'down') {
        req.socket.destroy()
        return
      }
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse
      res.end = ((...args: unknown[]) => {
        call.status = res.statusCode
        registerIssuedTokens(args[0])
        if (fault?.kind === 'drop') {
          call.status = 0
          res.socket?.destroy()
        } else if (fault?.kind === 'delay') {
          clock.setTimeout(() => end(...args), fault.ms)
        } else {
          end(...args)
        }
        return res
      }) as typeof res.end
    }
    void callback(req, res)
  })
  t.teardown(() => idp.close())
  return idp
}

/** The default interaction policy, but prompt=consent may not be asked for: such a request is invalid_request. */
function withoutRequestableConsent(): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base()
  const consent = policy.get('consent')
  if (consent) consent.requestable = false
  return policy
}

/** Tokens the provider issues join the whole-suite leak scan: none may appear in a log line. */
function registerIssuedTokens(body: unknown): void {
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return
  try {
    const json = JSON.parse(body.toString()) as Record<string, unknown>
    for (const k of ['access_token', 'refresh_token', 'id_token', 'device_code']) {
      if (typeof json[k] === 'string') registerSecret(json[k])
    }
  } catch {
    // not a JSON answer
  }
}

/** The login page and the consent page in one: user USER, every scope and resource asked for. */
async function finishInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const details = await provider.interactionDetails(req, res)
    const { prompt, params, session } = details
    let result: Record<string, unknown>
    if (prompt.name === 'login') {
      result = { login: { accountId: USER } }
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session?.accountId ?? USER, clientId: params.client_id as string })
      if (!grant) throw new Error('grant not found')
      const missing = prompt.details as {
        missingOIDCScope?: string[]
        missingResourceScopes?: Record<string, string[]>
      }
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
      for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(resource, scopes.join(' '))
      }
      result = { consent: { grantId: await grant.save() } }
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true })
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String((err as Error).message))
  }
}

/** OAC stand-in: every request must carry an RS256 token of the IdP, for OAC, unexpired (no clock tolerance). */
export async function startOac(t: Test, idp: Idp): Promise<Oac> {
  const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/admin/v1/SigningCert/jwk`))
  const server = createServer()
  const oac: Oac = { url: '', accepted: 0, refused: 0, close: () => closeServer(server) }
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const auth = req.headers.authorization ?? ''
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : ''
    jwtVerify(token, jwks, { issuer: idp.issuer, audience: OAC_AUDIENCE, algorithms: ['RS256'], clockTolerance: 0 })
      .then(() => {
        oac.accepted++
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}')
      })
      .catch(() => {
        oac.refused++
        res
          .writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' })
          .end('{"code":"NotAuthenticated"}')
      })
  })
  oac.url = `http://127.0.0.1:${await listen(server)}`
  t.teardown(() => oac.close())
  return oac
}

/** Proxy configuration against the interop IdP and OAC (env names as a user would set them). */
export function interopConfig(
  t: Test,
  idp: Idp,
  oac: Oac,
  method: AuthMethod,
  env: Record<string, string> = {},
): ProxyConfig {
  const dir = mkdtempSync(join(tmpdir(), 'oac-token-proxy-interop-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const auth: Record<string, string> =
    method === 'none'
      ? {}
      : method === 'private_key_jwt'
        ? { OAC_PROXY_PRIVATE_KEY: idp.clientKeyPem, OAC_PROXY_KEY_ID: 'proxy-jwt-key' }
        : { OAC_PROXY_CLIENT_SECRET: CLIENT_SECRET }
  return loadConfig({
    env: {
      OAC_PROXY_OAC_URL: oac.url,
      OAC_PROXY_IDCS_URL: idp.issuer,
      OAC_PROXY_CLIENT_ID: CLIENTS[method],
      OAC_PROXY_CLIENT_AUTH: method,
      OAC_PROXY_SCOPE: SCOPE,
      OAC_PROXY_LISTEN_PORT: '0',
      OAC_PROXY_STATE_FILE: join(dir, 'state.json'),
      OAC_PROXY_LOGIN_HEADLESS: 'false',
      ...auth,
      ...env,
    },
    cwd: dir,
  })
}

export interface InteropProxy {
  proxy: RunningProxy
  logs: LogCapture
  store: TokenStore
  get(): Promise<{ status: number; retryAfter: string | undefined; body: Record<string, unknown> }>
}

export async function startInteropProxy(
  t: Test,
  config: ProxyConfig,
  clock: Clock | undefined,
  store: TokenStore = new MemoryStore(),
  options: { waitForToken?: boolean } = {},
): Promise<InteropProxy> {
  const logs = new LogCapture()
  const proxy = await startProxy(config, { logger: logs.logger(), store, random: () => 0, ...(clock ? { clock } : {}) })
  t.teardown(() => proxy.close())
  if (options.waitForToken !== false) await proxy.manager.settled()
  return {
    proxy,
    logs,
    store,
    async get() {
      const res = await request(`${proxy.url}/api/20210901/snapshots`)
      const text = await res.body.text()
      const ra = res.headers['retry-after']
      return {
        status: res.statusCode,
        retryAfter: typeof ra === 'string' ? ra : undefined,
        body: JSON.parse(text) as Record<string, unknown>,
      }
    },
  }
}

/** Runs `login --browser` with a scripted browser that signs in and consents. */
export async function browserLogin(config: ProxyConfig, clock: Clock, store = new MemoryStore()): Promise<MemoryStore> {
  const browser = new Browser()
  let done: Promise<unknown> = Promise.resolve()
  await login(config, {
    credential: 'default',
    method: 'browser',
    store,
    logger: new LogCapture().logger(),
    out: () => {},
    interactive: false,
    clock,
    openUrl: async (url) => {
      const redirectUri = new URL(url).searchParams.get('redirect_uri') as string
      done = browser.follow(url, redirectUri).then((res) => (res.location ? browser.fetch(res.location) : res))
      return true
    },
  })
  await done
  return store
}

/** A browser with a cookie jar: follows redirects, submits the device-code forms. */
export class Browser {
  readonly #cookies = new Map<string, string>()

  async fetch(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<{ status: number; location?: string; body: string; url: string }> {
    const headers: Record<string, string> = {}
    if (this.#cookies.size > 0) headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    let body: string | undefined
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(init.form).toString()
    }
    const res = await request(url, { method: (init.method ?? (body ? 'POST' : 'GET')) as 'GET', headers, body })
    const set = res.headers['set-cookie']
    for (const c of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair] = c.split(';')
      const eq = (pair ?? '').indexOf('=')
      if (eq > 0) this.#cookies.set((pair ?? '').slice(0, eq).trim(), (pair ?? '').slice(eq + 1).trim())
    }
    const location = res.headers.location
    const text = await res.body.text()
    return {
      status: res.statusCode,
      body: text,
      url,
      ...(typeof location === 'string' ? { location: new URL(location, url).toString() } : {}),
    }
  }

  /** GET url and follow redirects until one leaves `stopAtOrigin` or no redirect comes. */
  async follow(
    url: string,
    stopAt?: string,
  ): Promise<{ status: number; location?: string; body: string; url: string }> {
    let res = await this.fetch(url)
    for (let i = 0; i < 20 && res.location; i++) {
      if (stopAt && res.location.startsWith(stopAt)) return res
      res = await this.fetch(res.location)
    }
    return res
  }

  /** Enters a device user code and approves it (node-oidc-provider's code verification forms). */
  async approveDevice(verificationUri: string, userCode: string): Promise<string> {
    const page = await this.fetch(verificationUri)
    const action = new URL(formAction(page.body) ?? verificationUri, verificationUri).toString()
    const entered = await this.fetch(action, { form: { xsrf: hidden(page.body, 'xsrf'), user_code: userCode } })
    const confirmAction = new URL(formAction(entered.body) ?? action, action).toString()
    let res = await this.fetch(confirmAction, {
      form: {
        xsrf: hidden(entered.body, 'xsrf'),
        user_code: hidden(entered.body, 'user_code') || userCode,
        confirm: 'yes',
      },
    })
    for (let i = 0; i < 20 && res.location; i++) res = await this.fetch(res.location)
    return res.body
  }
}

function hidden(html: string, name: string): string {
  const m =
    new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(html) ??
    new RegExp(`value="([^"]*)"[^>]*name="${name}"`).exec(html)
  return m?.[1] ?? ''
}

function formAction(html: string): string | undefined {
  return /<form[^>]*action="([^"]*)"/.exec(html)?.[1]
}
