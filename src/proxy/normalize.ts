// The one interpretation of a request target: the route, its access rules and the forwarded path all use it.

/** RFC 3986 section 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/

export type Normalised = { ok: true; path: string } | { ok: false; reason: string }

/**
 * Normalises a path (no query) that passed `pathSafe`:
 * - percent-encoded unreserved characters are decoded (RFC 3986 section 6.2.2.2), so `/%72o/` is `/ro/`;
 * - the hex digits of the remaining percent-encodings are upper-cased (section 6.2.2.1);
 * - runs of slashes inside the path collapse into one (`/api//x` is `/api/x`).
 * Refused: `;` path parameters (raw or `%3B`), which some servers strip and others do not,
 * and a target starting with `//` (a network-path reference, not a path).
 */
export function normalizePath(path: string): Normalised {
  if (path.startsWith('//')) return { ok: false, reason: 'the target starts with //, which reads as a host name' }
  // the common case, a plain path, costs one scan
  if (!/[%;]|\/\//.test(path)) return { ok: true, path }
  if (path.includes(';')) return { ok: false, reason: 'the path has ;parameters' }
  let out = path
  if (out.includes('%')) {
    out = out.replace(/%([0-9A-Fa-f]{2})/g, (_all, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16))
      return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`
    })
    if (out.includes('%3B')) return { ok: false, reason: 'the path has ;parameters (%3B)' }
  }
  return { ok: true, path: out.replace(/\/{2,}/g, '/') }
}

/** The path as access-rule globs see it: normalised, then fully percent-decoded (a malformed escape stays as it is). */
export function decodedForMatch(path: string): string {
  if (!path.includes('%')) return path
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

/** No dot-segments (plain, %2e-encoded or with ;params), encoded slashes or backslashes, NUL, backslash or '#'. */
export function pathSafe(path: string): boolean {
  // the common case, a plain path, costs one scan
  if (!/[.%\\#\0]/.test(path)) return true
  if (path.includes('\\') || path.includes('\0') || path.includes('#')) return false
  if (path.includes('%')) {
    const lower = path.toLowerCase()
    if (lower.includes('%2f') || lower.includes('%5c') || lower.includes('%00')) return false
    path = lower.replace(/%2e/g, '.')
  }
  for (const segment of path.split('/')) {
    // a ;parameter does not make a dot-segment safe (/..;/ is /../ to some servers)
    const seg = segment.split(';')[0]
    if (seg === '.' || seg === '..') return false
  }
  return true
}
