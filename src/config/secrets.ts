// Resolves a secret reference (inline, {env}, {file}) to a Secret, with errors that name the key but never the value.
import { readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { Secret } from '../shared/secret.js'

export type SecretRef = string | { value: string } | { env: string } | { file: string }

export interface ResolveContext {
  key: string
  origin: string
  baseDir: string
  env: NodeJS.ProcessEnv
  /** refresh_token: a JSON file may be an OAC profile tokens.json. */
  kind: 'plain' | 'refresh_token'
  /** A file readable by group or others: refuse, or record a warning. */
  permissions?: 'refuse' | 'warn'
  warnings?: string[]
  /** Set when the reference was read from this configuration file: an inline value makes it a secret file. */
  configFile?: string
}

/** Throws (or warns) when a secret file is readable or writable by group or others. */
export function checkSecretFileMode(
  path: string,
  key: string,
  ctx: Pick<ResolveContext, 'permissions' | 'warnings'>,
  inline = false,
): void {
  let mode: number
  try {
    mode = statSync(path).mode & 0o777
  } catch {
    return // the read below reports it
  }
  if ((mode & 0o077) === 0) return
  const m = mode.toString(8).padStart(4, '0')
  const text = inline
    ? `${key} is inline in the configuration file ${path}, which is readable by group or others (mode ${m}); run: chmod 600 ${path}, or move the secret to a file or an environment variable`
    : `${key}: file ${path} is readable by group or others (mode ${m}); run: chmod 600 ${path}`
  if ((ctx.permissions ?? 'refuse') === 'refuse') {
    throw new Error(`${text} (or set security.secretFilePermissions: warn)`)
  }
  ctx.warnings?.push(text)
}

export function resolveSecret(ref: SecretRef, ctx: ResolveContext): Secret {
  if (typeof ref === 'string' || 'value' in ref) {
    // an inline secret makes the configuration file a secret file, with the same permission policy
    if (ctx.configFile !== undefined) {
      checkSecretFileMode(ctx.configFile, ctx.key, ctx, true)
    }
    return typeof ref === 'string' ? new Secret(ref, `inline in ${ctx.origin}`) : new Secret(ref.value, ctx.origin)
  }
  if ('env' in ref) {
    const v = ctx.env[ref.env]
    if (v === undefined || v === '') {
      throw new Error(`${ctx.key}: environment variable ${ref.env} is not set or empty (${ctx.origin})`)
    }
    return new Secret(v.trim(), `env ${ref.env}`)
  }
  const path = resolve(ctx.baseDir, ref.file)
  checkSecretFileMode(path, ctx.key, ctx)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    throw new Error(`${ctx.key}: cannot read file ${path} (${code}) (${ctx.origin})`)
  }
  const value = ctx.kind === 'refresh_token' ? refreshTokenFromFile(text, path, ctx.key) : text.trim()
  if (value === '') throw new Error(`${ctx.key}: file ${path} is empty (${ctx.origin})`)
  return new Secret(value, `file ${path}`)
}

/** A refresh-token file is either the bare token or an OAC profile tokens.json. */
function refreshTokenFromFile(text: string, path: string, key: string): string {
  const trimmed = text.trim()
  if (!trimmed.startsWith('{')) return trimmed
  let json: Record<string, unknown>
  try {
    json = JSON.parse(trimmed) as Record<string, unknown>
  } catch {
    throw new Error(`${key}: file ${path} looks like JSON but does not parse`)
  }
  const rt = json.refresh_token ?? json.refreshToken
  if (typeof rt === 'string' && rt !== '') return rt
  if ('app_access_token' in json || 'access_token' in json || 'accessToken' in json) {
    throw new Error(
      `${key}: file ${path} holds only an access token, not a refresh token; download tokens.json from the OAC profile page with a scope that includes offline_access`,
    )
  }
  throw new Error(`${key}: file ${path} has no refresh_token field`)
}
