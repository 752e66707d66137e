// Asks the proxy that holds a state file (found through its lock) over its admin API, with the admin key.
import { Agent, request } from '../net/undici.js'
import { ADMIN_KEY_HEADER } from '../shared/admin-path.js'
import { ProxyError } from '../shared/errors.js'
import { readFileSync } from 'node:fs'
import type { CredentialConfig } from '../config/types.js'
import type { StateFile } from '../token/store/file.js'
import { checkIdentity, identityOf } from '../token/store/identity.js'
import { liveLock, type LockInfo } from '../token/store/lock.js'

export interface RunningProxyInfo {
  pid: number
  adminUrl: string
  adminKey: string
}

/** The running proxy on this state file, if one holds it and advertised its admin address. */
export function runningProxy(statePath: string): RunningProxyInfo | undefined {
  const lock: LockInfo | undefined = liveLock(statePath)
  if (!lock?.adminUrl || !lock.adminKey) return undefined
  return { pid: lock.pid, adminUrl: lock.adminUrl, adminKey: lock.adminKey }
}

/** GET an admin path of the running proxy; resolves the JSON body or rejects with a ProxyError. */
export async function askProxy<T>(info: RunningProxyInfo, path: string): Promise<T> {
  const unix = info.adminUrl.startsWith('unix:')
  const dispatcher = unix ? new Agent({ connect: { socketPath: info.adminUrl.slice(5) } }) : undefined
  const base = unix ? 'http://localhost' : info.adminUrl
  try {
    const res = await request(base + path, {
      headers: { [ADMIN_KEY_HEADER]: info.adminKey, host: 'localhost' },
      headersTimeout: 20_000,
      bodyTimeout: 20_000,
      ...(dispatcher ? { dispatcher } : {}),
    })
    const body = (await res.body.json()) as T & { error?: string; message?: string; hint?: string }
    if (res.statusCode >= 400) {
      const code = typeof body.error === 'string' ? body.error : 'internal_error'
      throw new ProxyError(
        code as never,
        `the running proxy answered ${res.statusCode}: ${body.message ?? ''}`.trim(),
        {
          ...(body.hint ? { hint: body.hint } : {}),
        },
      )
    }
    return body
  } catch (err) {
    if (err instanceof ProxyError) throw err
    throw new ProxyError(
      'idp_unreachable',
      `a proxy (pid ${info.pid}) holds the state file but does not answer at ${info.adminUrl}`,
      {
        cause: err,
        hint: 'Check that it is healthy (/-/healthz); it keeps the state file locked while it runs.',
      },
    )
  } finally {
    await dispatcher?.close()
  }
}

/** The state file as it is on disk, read without the lock (the running proxy holds it); undefined if absent or unreadable. */
export function readStateFile(path: string): StateFile | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StateFile
  } catch {
    return undefined
  }
}

/** Throws state_mismatch when the state file holds this credential for another identity domain or client. */
export function checkStateIdentity(
  state: StateFile | undefined,
  c: Pick<CredentialConfig, 'name' | 'idcsUrl' | 'clientId'>,
  path: string,
): void {
  checkIdentity(state?.credentials?.[c.name], identityOf(c.name, c.idcsUrl, c.clientId), path)
}
