// Resolves the security settings: local keys from their file, allowed hosts and origins, exposure and TLS checks.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Secret } from '../shared/secret.js'
import { checkSecretFileMode } from './secrets.js'
import type { Reader } from './tree.js'
import type { ProxyConfig, SecuritySettings } from './types.js'

/** Shortest local key accepted: shorter ones are guessable. */
export const MIN_LOCAL_KEY_LENGTH = 16

interface Ctx {
  baseDir: string
  problems: string[]
  permissions: 'refuse' | 'warn'
  warnings: string[]
}

export function resolveSecurity(value: Reader, ctx: Ctx, where: (key: string) => string): SecuritySettings {
  const keys: Secret[] = []
  const file = value<string | undefined>('security.localKeysFile')
  if (file) {
    const path = resolve(ctx.baseDir, file)
    try {
      checkSecretFileMode(path, 'security.localKeysFile', ctx)
      const lines = readFileSync(path, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
      lines.forEach((line, i) => {
        if (line.length < MIN_LOCAL_KEY_LENGTH) {
          ctx.problems.push(
            `security.localKeysFile: key on line ${i + 1} of ${path} is shorter than ${MIN_LOCAL_KEY_LENGTH} characters`,
          )
        } else keys.push(new Secret(line, `file ${path}`))
      })
      if (lines.length === 0)
        ctx.problems.push(`security.localKeysFile: ${path} holds no key (${where('security.localKeysFile')})`)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      ctx.problems.push(
        code
          ? `security.localKeysFile: cannot read ${path} (${code}) (${where('security.localKeysFile')})`
          : (err as Error).message,
      )
    }
  }
  return {
    localKeys: keys,
    localKeyHeader: value<string>('security.localKeyHeader').toLowerCase(),
    allowedHosts: (value<string[] | undefined>('security.allowedHosts') ?? []).map((h) => h.toLowerCase()),
    allowedOrigins: (value<string[] | undefined>('security.allowedOrigins') ?? []).map((o) =>
      o.toLowerCase().replace(/\/+$/, ''),
    ),
    allowNonLoopback: value<boolean>('security.allowNonLoopback'),
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** A non-loopback listener needs local keys or the explicit opt-out (which is then warned about). */
export function checkExposure(
  listen: ProxyConfig['listen'],
  security: SecuritySettings,
  where: (key: string) => string,
  problems: string[],
  warnings: string[],
): void {
  if (!listen.tcp && !listen.socket) {
    problems.push(
      `listen.tcp is false and no listen.socket is set: the proxy would listen nowhere (${where('listen.tcp')})`,
    )
    return
  }
  if (!listen.tcp || isLoopbackHost(listen.host)) return
  if (security.localKeys.length > 0) return
  if (security.allowNonLoopback) {
    warnings.push(
      `listen.host ${listen.host} is not loopback and no local keys are set: anyone who can reach the port acts on OAC with this proxy's rights`,
    )
    return
  }
  problems.push(
    `listen.host ${listen.host} is not a loopback address: set security.localKeysFile so callers must present a key, ` +
      `or security.allowNonLoopback: true to accept the risk (${where('listen.host')})`,
  )
}

export function readCaFile(
  file: string | undefined,
  baseDir: string,
  where: (key: string) => string,
  problems: string[],
): string | undefined {
  if (!file) return undefined
  const path = resolve(baseDir, file)
  try {
    const pem = readFileSync(path, 'utf8')
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      problems.push(`tls.caFile: ${path} holds no PEM certificate (${where('tls.caFile')})`)
      return undefined
    }
    return pem
  } catch (err) {
    problems.push(
      `tls.caFile: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}) (${where('tls.caFile')})`,
    )
    return undefined
  }
}
