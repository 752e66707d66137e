// Builds the credential and route lists from the merged config: secrets, keys, and the checks between keys.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Secret } from '../shared/secret.js'
import { DEFAULT_ASSERTION_AUDIENCE, DEFAULT_CREDENTIAL, OPTIONS } from './options.js'
import { resolveSecret, type SecretRef } from './secrets.js'
import type { Tree } from './tree.js'
import type { AssertionKey, ClientAuthMethod, CredentialConfig, GrantName, RouteConfig } from './types.js'

export interface CredentialContext {
  baseDir: string
  env: NodeJS.ProcessEnv
  /** Where a key's value came from: the file, `env X` or `flag --x`. */
  where: (key: string) => string
  /** Problems found so far; this module appends to it. */
  problems: string[]
  /** Set when a problem is an unreadable secret (for the error code). */
  secretProblems: string[]
  permissions: 'refuse' | 'warn'
  warnings: string[]
  /** The configuration file, if any: one holding an inline secret gets the secret-file permission check. */
  configFile?: string | undefined
}

const CREDENTIAL_KEYS = OPTIONS.filter((o) => o.credential).map((o) => o.path)

/** The default credential (top level) first, then each entry of `credentials:`. */
export function resolveCredentials(merged: Tree, ctx: CredentialContext): CredentialConfig[] {
  const top: Tree = {}
  for (const key of CREDENTIAL_KEYS) if (merged[key] !== undefined) top[key] = merged[key]
  const out = [resolveOne(DEFAULT_CREDENTIAL, '', top, ctx)]
  const named = (merged.credentials ?? {}) as Record<string, Tree>
  for (const [name, entry] of Object.entries(named)) {
    if (name === DEFAULT_CREDENTIAL) {
      ctx.problems.push(
        `credentials.${name}: '${DEFAULT_CREDENTIAL}' is the top-level credential; choose another name (${ctx.where('credentials')})`,
      )
      continue
    }
    out.push(resolveOne(name, `credentials.${name}.`, { idcsUrl: merged.idcsUrl, ...entry }, ctx))
  }
  return out
}

function resolveOne(name: string, prefix: string, entry: Tree, ctx: CredentialContext): CredentialConfig {
  const key = (k: string): string => `${prefix}${k}`
  const origin = (k: string): string => ctx.where(prefix ? 'credentials' : k)
  const secret = (k: string, kind: 'plain' | 'refresh_token' = 'plain'): Secret | undefined => {
    const ref = entry[k] as SecretRef | undefined
    if (ref === undefined) return undefined
    try {
      return resolveSecret(ref, {
        key: key(k),
        origin: origin(k),
        baseDir: ctx.baseDir,
        env: ctx.env,
        kind,
        permissions: ctx.permissions,
        warnings: ctx.warnings,
        ...(ctx.configFile !== undefined && origin(k) === ctx.configFile ? { configFile: ctx.configFile } : {}),
      })
    } catch (err) {
      ctx.problems.push((err as Error).message)
      ctx.secretProblems.push((err as Error).message)
      return undefined
    }
  }
  const clientSecret = secret('clientSecret')
  const privateKey = secret('privateKey')
  const grant = (entry.grant as GrantName | undefined) ?? 'refresh_token'
  const requested = (entry.clientAuth as ClientAuthMethod | 'auto' | undefined) ?? 'auto'
  const clientAuth: ClientAuthMethod =
    requested !== 'auto'
      ? requested
      : entry.clientSecret !== undefined
        ? 'client_secret_basic'
        : entry.privateKey !== undefined
          ? 'private_key_jwt'
          : 'none'
  const need = (k: string, why: string): void => {
    if (entry[k] === undefined) ctx.problems.push(`${key(k)} is required ${why} (${origin(k)})`)
  }
  if (clientAuth === 'client_secret_basic' || clientAuth === 'client_secret_post') {
    need('clientSecret', `for clientAuth ${clientAuth}`)
  }
  const usesKey = clientAuth === 'private_key_jwt' || grant === 'jwt_bearer'
  if (usesKey) {
    need('privateKey', clientAuth === 'private_key_jwt' ? 'for clientAuth private_key_jwt' : 'for grant jwt_bearer')
    if (entry.keyId === undefined && entry.certificate === undefined) {
      ctx.problems.push(`${key('keyId')} or ${key('certificate')} is required to sign assertions (${origin('keyId')})`)
    }
  }
  if (grant === 'jwt_bearer') need('username', 'for grant jwt_bearer (the assertion subject)')
  if (grant === 'password') {
    need('username', 'for grant password')
    need('password', 'for grant password')
  }
  if (grant === 'client_credentials' && clientAuth === 'none') {
    ctx.problems.push(
      `${key('grant')} client_credentials needs a confidential client: give clientSecret or privateKey (${origin('grant')})`,
    )
  }
  let assertionKey: AssertionKey | undefined
  if (usesKey && privateKey) assertionKey = loadAssertionKey(privateKey, entry, key, origin, ctx)
  return {
    name,
    idcsUrl: String(entry.idcsUrl ?? '').replace(/\/+$/, ''),
    clientId: String(entry.clientId ?? ''),
    clientSecret,
    clientAuth,
    grant,
    scope: String(entry.scope ?? ''),
    refreshToken: secret('refreshToken', 'refresh_token'),
    username: entry.username as string | undefined,
    password: secret('password'),
    assertionKey,
    tokenFile: typeof entry.tokenFile === 'string' ? resolve(ctx.baseDir, entry.tokenFile) : undefined,
  }
}

function loadAssertionKey(
  privateKey: Secret,
  entry: Tree,
  key: (k: string) => string,
  origin: (k: string) => string,
  ctx: CredentialContext,
): AssertionKey | undefined {
  try {
    createPrivateKey(privateKey.reveal())
  } catch {
    ctx.problems.push(`${key('privateKey')} is not a PEM private key (PKCS#8 or PKCS#1) (${privateKey.source})`)
    return undefined
  }
  const out: AssertionKey = {
    privateKey,
    audience: (entry.assertionAudience as string | undefined) ?? DEFAULT_ASSERTION_AUDIENCE,
  }
  if (typeof entry.keyId === 'string') out.keyId = entry.keyId
  if (typeof entry.certificate === 'string') {
    const path = resolve(ctx.baseDir, entry.certificate)
    try {
      const cert = new X509Certificate(readFileSync(path))
      out.x5t = Buffer.from(cert.fingerprint.replace(/:/g, ''), 'hex').toString('base64url')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'not a PEM certificate'
      ctx.problems.push(`${key('certificate')}: cannot read certificate ${path} (${code}) (${origin('certificate')})`)
    }
  }
  return out
}

/** Named routes, longest prefix first, then `/` to oacUrl with the default credential. */
export function resolveRoutes(merged: Tree, credentials: CredentialConfig[], ctx: CredentialContext): RouteConfig[] {
  const names = new Set(credentials.map((c) => c.name))
  const listed = ((merged.routes ?? []) as RouteConfig[]).map((r) => ({
    ...r,
    upstream: r.upstream.replace(/\/+$/, ''),
  }))
  const seen = new Set<string>()
  listed.forEach((r, i) => {
    const at = `routes.${i}`
    if (!names.has(r.credential)) {
      ctx.problems.push(
        `${at}.credential '${r.credential}' is not a configured credential (known: ${[...names].join(', ')}) (${ctx.where('routes')})`,
      )
    }
    if (r.prefix.startsWith('/-/'))
      ctx.problems.push(`${at}.prefix ${r.prefix} is reserved for admin endpoints (${ctx.where('routes')})`)
    if (r.prefix === '/') ctx.problems.push(`${at}.prefix / is oacUrl's; give a longer prefix (${ctx.where('routes')})`)
    // a prefix in normal form: the proxy matches it against the normalised request path
    if (r.prefix !== '/' && !/^\/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*\/)+$/.test(r.prefix)) {
      ctx.problems.push(
        `${at}.prefix ${r.prefix} must be /segment/.../ with letters, digits, '-', '.', '_' or '~' only (no //, %, dot-segments) (${ctx.where('routes')})`,
      )
    }
    if (seen.has(r.prefix)) ctx.problems.push(`${at}.prefix ${r.prefix} is listed twice (${ctx.where('routes')})`)
    seen.add(r.prefix)
  })
  listed.sort((a, b) => b.prefix.length - a.prefix.length)
  const oac: RouteConfig = {
    prefix: '/',
    upstream: String(merged.oacUrl ?? '').replace(/\/+$/, ''),
    credential: DEFAULT_CREDENTIAL,
  }
  if (merged.access) oac.access = merged.access as NonNullable<RouteConfig['access']>
  return [...listed, oac]
}
