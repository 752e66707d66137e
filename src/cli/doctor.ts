// `oac-token-proxy doctor`: checks the configuration, the shared store, the identity domain, the scope, the grant and OAC.
import type { Dispatcher } from 'undici'
import { request } from '../net/undici.js'
import { loadConfig, type LoadOptions } from '../config/load.js'
import type { ProxyConfig } from '../config/types.js'
import { isProxyError } from '../shared/errors.js'
import { idpAgentFor } from '../net/http-agent.js'
import type { Logger } from '../shared/log.js'
import { getToken } from './token.js'

export type CheckResult = 'ok' | 'warn' | 'fail'

export interface Check {
  name: string
  result: CheckResult
  detail: string
}

const CONSUMER_SCOPE = 'urn:opc:resource:consumer::all'

/** What `{oac}/ui/` tells about the identity domain and the OAC app. */
export interface Discovery {
  idcsUrl: string
  appName: string
  audience: string
  scope: string
}

/** Follows nothing: reads the Location of `{oac}/ui/`, which names the identity domain and `idcs_app_name`. */
export async function discover(oacUrl: string, dispatcher?: Dispatcher): Promise<Discovery | undefined> {
  const res = await request(`${oacUrl.replace(/\/+$/, '')}/ui/`, {
    method: 'GET',
    ...(dispatcher ? { dispatcher } : {}),
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  })
  await res.body.dump()
  const location = res.headers.location
  if (typeof location !== 'string') return undefined
  const url = new URL(location, oacUrl)
  const appName = url.searchParams.get('idcs_app_name')
  if (!appName) return undefined
  // the OAC app ANALYTICSINST_<id> has the primary audience https://<id>.analytics.ocp.oraclecloud.com
  const id = appName.replace(/^ANALYTICSINST_/i, '').toLowerCase()
  const audience = `https://${id}.analytics.ocp.oraclecloud.com`
  return { idcsUrl: url.origin, appName, audience, scope: `${audience}${CONSUMER_SCOPE} offline_access` }
}

/** Records one check's outcome. */
type AddCheck = (name: string, result: CheckResult, detail: string) => void

/** Outbound request options: the proxy's own agent when a configuration is known (tls.caFile, HTTPS_PROXY). */
type Outbound = { dispatcher: Dispatcher } | Record<string, never>

export async function runDoctor(load: LoadOptions, oacUrlFlag: string | undefined, logger: Logger): Promise<Check[]> {
  const checks: Check[] = []
  const add: AddCheck = (name, result, detail) => {
    checks.push({ name, result, detail })
  }
  const config = checkConfiguration(load, add)
  // a fleet's shared store: connection, authentication and ACL, TLS, the key that opens the stored state
  if (config?.store) await (await import('./doctor-store.js')).checkStore(config, add)
  const oacUrl = config?.oacUrl ?? oacUrlFlag
  if (!oacUrl) {
    add('next step', 'warn', 'pass --config FILE, or --oac-url URL alone to discover the identity domain and the scope')
    return checks
  }
  // with a configuration, every check goes out the way the proxy does (tls.caFile, HTTPS_PROXY)
  const dispatcher = config ? idpAgentFor(config) : undefined
  const outbound: Outbound = dispatcher ? { dispatcher } : {}
  const found = await checkDiscovery(oacUrl, dispatcher, add)
  await checkIdentityDomain(config, found, outbound, add)
  if (!config) {
    if (found)
      add('next step', 'warn', `put idcsUrl: ${found.idcsUrl} and scope: "${found.scope}" in the configuration`)
    return checks
  }
  const scopeCheck = checkScope(config.scope, config.credentials[0]?.grant, found)
  add('scope', scopeCheck.result, scopeCheck.detail)
  await checkGrants(config, logger, outbound, add)
  return checks
}

/** The configuration loads, or the failure says why; undefined when it does not. */
function checkConfiguration(load: LoadOptions, add: AddCheck): ProxyConfig | undefined {
  try {
    const config = loadConfig(load)
    add('configuration', 'ok', config.sourceFile ?? 'from the environment')
    return config
  } catch (err) {
    add('configuration', 'fail', isProxyError(err) ? err.message : String(err))
    return undefined
  }
}

/** What OAC's sign-in redirect tells about the identity domain and the app. */
async function checkDiscovery(
  oacUrl: string,
  dispatcher: Dispatcher | undefined,
  add: AddCheck,
): Promise<Discovery | undefined> {
  try {
    const found = await discover(oacUrl, dispatcher)
    if (!found) add('OAC discovery', 'warn', `${oacUrl}/ui/ did not redirect to an identity domain with idcs_app_name`)
    else add('OAC discovery', 'ok', `identity domain ${found.idcsUrl}, app ${found.appName}, scope "${found.scope}"`)
    return found
  } catch (err) {
    add('OAC discovery', 'fail', `cannot reach ${oacUrl}: ${(err as { code?: string }).code ?? (err as Error).message}`)
    return undefined
  }
}

/** The configured identity domain matches OAC's and answers with its signing keys. */
async function checkIdentityDomain(
  config: ProxyConfig | undefined,
  found: Discovery | undefined,
  outbound: Outbound,
  add: AddCheck,
): Promise<void> {
  const idcsUrl = config?.idcsUrl ?? found?.idcsUrl
  if (found && config && new URL(config.idcsUrl).origin !== found.idcsUrl) {
    add('identity domain', 'warn', `idcsUrl is ${config.idcsUrl} but OAC signs in at ${found.idcsUrl}`)
  }
  if (!idcsUrl) return
  try {
    const res = await request(`${idcsUrl}/admin/v1/SigningCert/jwk`, {
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
      ...outbound,
    })
    const body = (await res.body.json().catch(() => ({}))) as { keys?: unknown[] }
    if (res.statusCode === 200 && Array.isArray(body.keys))
      add('identity domain', 'ok', `${idcsUrl} answers (${body.keys.length} signing key(s))`)
    else add('identity domain', 'fail', `${idcsUrl}/admin/v1/SigningCert/jwk answered ${res.statusCode}`)
  } catch (err) {
    add(
      'identity domain',
      'fail',
      `cannot reach ${idcsUrl}: ${(err as { code?: string }).code ?? (err as Error).message}`,
    )
  }
}

/** Each credential's grant yields a token; OAC accepts the first credential's. */
async function checkGrants(config: ProxyConfig, logger: Logger, outbound: Outbound, add: AddCheck): Promise<void> {
  for (const c of config.credentials) {
    try {
      const token = await getToken(config, c.name, logger)
      add(
        `grant ${c.name} (${c.grant})`,
        'ok',
        `token obtained${token.source === 'proxy' ? ' from the running proxy' : ''}, valid until ${new Date(token.expiresAtMs).toISOString()}`,
      )
      if (c.name === config.credentials[0]?.name) await checkOacAccepts(config, token.accessToken, outbound, add)
    } catch (err) {
      const e = isProxyError(err) ? `${err.code}: ${err.message}${err.hint ? ` (${err.hint})` : ''}` : String(err)
      add(`grant ${c.name} (${c.grant})`, 'fail', e)
    }
  }
}

/** One OAC API call with the token: 401 means OAC refuses it (scope, or the user may not use OAC). */
async function checkOacAccepts(
  config: ProxyConfig,
  accessToken: string,
  outbound: Outbound,
  add: AddCheck,
): Promise<void> {
  const res = await request(`${config.oacUrl}/api/20210901/snapshots`, {
    headers: { authorization: `Bearer ${accessToken}` },
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    ...outbound,
  })
  await res.body.dump()
  if (res.statusCode === 401)
    add('OAC accepts the token', 'fail', 'OAC answered 401: check the scope and that the user may use OAC')
  else add('OAC accepts the token', 'ok', `GET /api/20210901/snapshots answered ${res.statusCode}`)
}

/**
 * The configured scope against what OAC needs: offline_access for a refresh token, the consumer
 * scope, and the audience OAC discovery found. A failure shows the scope to use instead.
 */
export function checkScope(
  scope: string,
  grant: string | undefined,
  found: Discovery | undefined,
): { result: CheckResult; detail: string } {
  const parts = scope.split(/\s+/).filter(Boolean)
  const consumer = parts.find((p) => p.endsWith(CONSUMER_SCOPE))
  const problems: string[] = []
  if (!consumer) problems.push(`it lacks the OAC audience followed by ${CONSUMER_SCOPE}`)
  else if (found && consumer !== `${found.audience}${CONSUMER_SCOPE}`) {
    const audience = consumer.slice(0, -CONSUMER_SCOPE.length) || '(none)'
    problems.push(`its audience ${audience} differs from the one OAC uses, ${found.audience}`)
  }
  const needsOffline = grant === undefined || grant === 'refresh_token'
  if (needsOffline && !parts.includes('offline_access')) {
    problems.push('it lacks offline_access: no refresh token would be issued')
  }
  if (problems.length === 0) return { result: 'ok', detail: scope }
  // the corrected scope: the discovered audience when known, the other parts kept, offline_access added
  const others = parts.filter((p) => p !== consumer && p !== 'offline_access')
  const fixedConsumer = found ? `${found.audience}${CONSUMER_SCOPE}` : consumer
  const fixed = fixedConsumer
    ? [fixedConsumer, ...others, ...(needsOffline || parts.includes('offline_access') ? ['offline_access'] : [])].join(
        ' ',
      )
    : undefined
  const use = fixed ? `; use scope: "${fixed}"` : ' (the audience could not be discovered from OAC)'
  return { result: 'fail', detail: `${problems.join(', and ')}${use}` }
}
