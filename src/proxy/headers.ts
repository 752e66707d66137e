// Header rewrites between the caller and OAC: hop-by-hop headers and local credentials dropped, the token set, Location mapped back.

/** Never forwarded; `expect` is answered by this proxy (undici refuses to send it). */
export const HOP_BY_HOP_REQUEST_HEADERS = [
  'proxy-authorization',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'expect',
]

/** Request headers never sent upstream: hop-by-hop ones, cookies, the caller's authorization and the local keys. */
export function droppedRequestHeaders(localKeyHeader: string, adminKeyHeader: string): ReadonlySet<string> {
  // local credentials (the local key, the admin key) never leave this host
  return new Set([...HOP_BY_HOP_REQUEST_HEADERS, 'cookie', 'authorization', localKeyHeader, adminKeyHeader])
}

/** The headers to send upstream: all but the dropped ones, with `authorization: Bearer <token>`. */
export function upstreamRequestHeaders(
  headers: Record<string, unknown>,
  dropped: ReadonlySet<string>,
  token: string,
): Record<string, unknown> {
  // one pass into a fresh object: cheaper than `delete` (which sends V8 objects to dictionary mode)
  const out: Record<string, unknown> = {}
  for (const name in headers) if (!dropped.has(name)) out[name] = headers[name]
  out.authorization = `Bearer ${token}`
  return out
}

/** Points an upstream redirect (`Location` on the upstream origin) back through the route's prefix; changes `headers`. */
export function localLocation(
  headers: Record<string, unknown>,
  upstreamOrigin: string,
  mountPrefix: string,
): Record<string, unknown> {
  const location = headers.location
  if (typeof location === 'string' && location.startsWith(upstreamOrigin + '/')) {
    headers.location = mountPrefix + location.slice(upstreamOrigin.length)
  }
  return headers
}
