// The reserved admin path prefix, the admin key header and the constant-time admin key check.
import { createHash, timingSafeEqual } from 'node:crypto'

/** OAC's API lives under /api, /ui, /dv...; it never uses /-/. */
export const ADMIN_PREFIX = '/-/'
/** Header carrying the admin key that local commands read from the state lock file. */
export const ADMIN_KEY_HEADER = 'x-oac-proxy-admin-key'

/** Constant-time check of the admin key header. */
export function adminKeyMatches(presented: string | string[] | undefined, adminKey: string | undefined): boolean {
  if (!adminKey || typeof presented !== 'string') return false
  const a = createHash('sha256').update(presented).digest()
  const b = createHash('sha256').update(adminKey).digest()
  return timingSafeEqual(a, b)
}
