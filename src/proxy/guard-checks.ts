// The access guard pipeline: small named checks, in order, each refusing one kind of request with one error code.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ADMIN_KEY_HEADER, ADMIN_PREFIX, adminKeyMatches } from '../shared/admin-path.js'
import { ProxyError, type ErrorCode } from '../shared/errors.js'
import { methodOverrides, type CompiledRoute } from './access.js'
import { normalizePath, pathSafe } from './normalize.js'

/** Probes must work without a key. */
const KEY_EXEMPT = new Set(['/-/healthz', '/-/readyz', '/-/token'])
export const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/
/** name or IPv4 or [IPv6], then an optional port: nothing else (no userinfo, no trailing junk). */
const HOST_FORM = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/
/** Methods forwarded at all; anything else (TRACE, PROPFIND...) is refused before routing. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** What the checks know from the config, compiled once. */
export interface GuardSettings {
  allowedHosts: ReadonlySet<string>
  allowedOrigins: ReadonlySet<string>
  keyDigests: readonly Buffer[]
  keyHeader: string
  /** Routes longest prefix first; `checkedRoutes` is false when none has access rules (no lookup at all). */
  routes: readonly CompiledRoute[]
  checkedRoutes: boolean
  adminKey: string | undefined
  onRefuse: (code: ErrorCode) => void
}

/** One request on its way through the checks; `path` is the normalised path once `normalisedPath` has run. */
export interface GuardRequest {
  req: IncomingMessage
  res: ServerResponse
  /** The separate admin port, which serves no OAC path and needs no local key. */
  adminListener: boolean
  url: string
  /** Where the query starts in `url` (-1: no query). */
  q: number
  rawPath: string
  path: string
  /** The allowed Origin to answer CORS for, once `allowedOrigin` found one. */
  corsOrigin: string | undefined
}

/** Writes a refusal or an answer and returns true, or returns false to pass the request on. */
export type GuardCheck = (g: GuardRequest, s: GuardSettings) => boolean

/** Writes the JSON refusal, counts it, and returns true. */
export function refuse(g: GuardRequest, s: GuardSettings, err: ProxyError, headers: Record<string, string> = {}): true {
  s.onRefuse(err.code)
  const body = JSON.stringify(err.toBody())
  g.res.writeHead(err.httpStatus, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  })
  g.res.end(body)
  return true
}

/** Refuses a target that is not a path (absolute-form, authority-form): 400 absolute_form_refused. */
function targetIsPath(g: GuardRequest, s: GuardSettings): boolean {
  if (g.url.charCodeAt(0) === 47 /* '/' */) return false
  return refuse(
    g,
    s,
    new ProxyError('absolute_form_refused', 'only paths are accepted as request targets', {
      hint: 'Send GET /api/20210901/... to the proxy; it is not a forward proxy.',
    }),
  )
}

/** Refuses a method outside the forwarded few (TRACE, PROPFIND...): 405 method_forbidden. */
function methodKnown(g: GuardRequest, s: GuardSettings): boolean {
  if (METHODS.has(g.req.method ?? '')) return false
  return refuse(
    g,
    s,
    new ProxyError('method_forbidden', `${String(g.req.method).slice(0, 16)} is not supported`, {
      hint: `Supported: ${[...METHODS].join(', ')}.`,
    }),
  )
}

/** Refuses a missing, repeated, malformed or unknown Host header (DNS rebinding): 421 host_not_allowed. */
function hostAllowed(g: GuardRequest, s: GuardSettings): boolean {
  if (hostKnown(g.req, s.allowedHosts)) return false
  return refuse(
    g,
    s,
    new ProxyError('host_not_allowed', 'the Host header is not one this proxy answers to', {
      hint: 'Call it as localhost or 127.0.0.1, or add the name to security.allowedHosts.',
    }),
  )
}

/** Refuses dot-segments, encoded slashes, backslashes, NUL or '#' in the raw path: 400 path_refused. */
function safePath(g: GuardRequest, s: GuardSettings): boolean {
  if (pathSafe(g.rawPath)) return false
  return refuse(
    g,
    s,
    new ProxyError('path_refused', 'the path contains dot-segments, encoded slashes, backslashes or NUL', {
      hint: 'Send the normalised path.',
    }),
  )
}

/** Refuses ;parameters and a leading //, else rewrites the target to its normal form: 400 path_refused. */
function normalisedPath(g: GuardRequest, s: GuardSettings): boolean {
  // from here on, everything (key exemptions, admin scope, route, rules, Fastify, the upstream) sees one path
  const normal = normalizePath(g.rawPath)
  if (!normal.ok) {
    return refuse(g, s, new ProxyError('path_refused', normal.reason, { hint: 'Send the normalised path.' }))
  }
  g.path = normal.path
  if (g.path !== g.rawPath) g.req.url = g.q < 0 ? g.path : g.path + g.url.slice(g.q)
  return false
}

/** Refuses an Origin that is neither this proxy nor an allowed one: 403 origin_not_allowed. */
function allowedOrigin(g: GuardRequest, s: GuardSettings): boolean {
  const origin = g.req.headers.origin
  if (origin === undefined) return false
  const o = origin.toLowerCase()
  const self = `http://${(g.req.headers.host ?? '').toLowerCase()}`
  if (s.allowedOrigins.has(o)) g.corsOrigin = origin
  else if (o !== self) {
    return refuse(
      g,
      s,
      new ProxyError('origin_not_allowed', 'requests from web pages of other origins are refused', {
        hint: 'Add the origin to security.allowedOrigins if that page is yours.',
      }),
    )
  }
  return false
}

/** Refuses what the browser marks cross-site or same-site, unless from an allowed origin: 403 cross_site_refused. */
function notCrossSite(g: GuardRequest, s: GuardSettings): boolean {
  const site = g.req.headers['sec-fetch-site']
  if ((site !== 'cross-site' && site !== 'same-site') || g.corsOrigin !== undefined) return false
  return refuse(
    g,
    s,
    new ProxyError('cross_site_refused', 'the browser marked this request as coming from another site'),
  )
}

/** Refuses nothing: sets the CORS headers for an allowed origin and answers its preflight with 204. */
function corsHeaders(g: GuardRequest): boolean {
  if (g.corsOrigin === undefined) return false
  const { req, res } = g
  res.setHeader('access-control-allow-origin', g.corsOrigin)
  res.setHeader('vary', 'Origin')
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE',
      'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? 'content-type'),
      'access-control-max-age': '600',
    })
    res.end()
    return true
  }
  return false
}

/** Refuses a request without a valid local key (or the admin key) when keys are set, probes aside: 401 local_key_required. */
function localKey(g: GuardRequest, s: GuardSettings): boolean {
  if (
    s.keyDigests.length === 0 ||
    g.adminListener ||
    KEY_EXEMPT.has(g.path) ||
    keyValid(g.req, s) ||
    adminKeyMatches(g.req.headers[ADMIN_KEY_HEADER], s.adminKey)
  ) {
    return false
  }
  return refuse(
    g,
    s,
    new ProxyError('local_key_required', 'a valid local key is required', {
      hint:
        s.keyHeader === 'authorization'
          ? 'Send Authorization: Bearer <local key>.'
          : `Send the local key in the ${s.keyHeader} header.`,
    }),
    { 'www-authenticate': 'Bearer realm="oac-token-proxy"' },
  )
}

/** Refuses what the route's access rules deny, method overrides included: 405 method_forbidden or 403 path_forbidden. */
function routeRules(g: GuardRequest, s: GuardSettings): boolean {
  if (!s.checkedRoutes || g.path.startsWith(ADMIN_PREFIX)) return false
  const path = g.path
  const route = s.routes.find((r) => r.prefix === '/' || path.startsWith(r.prefix) || path === r.bare)
  if (!route?.check) return false
  const query = g.q < 0 ? '' : g.url.slice(g.q + 1)
  const denied = route.check(g.req.method ?? 'GET', path, methodOverrides(g.req, query))
  return denied ? refuse(g, s, denied) : false
}

/** The checks in the order they run: the first that answers ends the request. */
export const GUARD_CHECKS: readonly GuardCheck[] = [
  targetIsPath,
  methodKnown,
  hostAllowed,
  safePath,
  normalisedPath,
  allowedOrigin,
  notCrossSite,
  corsHeaders,
  localKey,
  routeRules,
]

/** Exactly one Host header (RFC 9112 3.2), of the strict form name[:port] or [v6][:port], loopback or allowed. */
function hostKnown(req: IncomingMessage, allowedHosts: ReadonlySet<string>): boolean {
  if (hostHeaderCount(req.rawHeaders) !== 1) return false
  const h = (req.headers.host as string).toLowerCase()
  const m = HOST_FORM.exec(h)
  if (!m) return false
  if (allowedHosts.has(h)) return true
  const name = m[1] as string
  return LOOPBACK_NAMES.has(name) || LOOPBACK_V4.test(name) || allowedHosts.has(name)
}

/** Host headers in the raw list (headersDistinct would build an object for every header). */
function hostHeaderCount(raw: string[]): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (name.length === 4 && name.toLowerCase() === 'host') n++
  }
  return n
}

/** Whether the local key header carries one of the configured keys. */
function keyValid(req: IncomingMessage, s: GuardSettings): boolean {
  const raw = req.headers[s.keyHeader]
  let presented = Array.isArray(raw) ? raw[0] : raw
  if (presented === undefined) return false
  if (s.keyHeader === 'authorization') {
    const m = /^bearer\s+(.+)$/i.exec(presented)
    if (!m) return false
    presented = (m[1] as string).trim()
  }
  const digest = sha256(presented)
  let ok = false
  // compare against every key, without stopping early
  for (const d of s.keyDigests) ok = timingSafeEqual(d, digest) || ok
  return ok
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
