// Access guards run on the raw request before Fastify: target form, Host, path safety, browsers, local keys, route rules.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ProxyConfig } from '../config/types.js'
import { ProxyError, type ErrorCode } from '../shared/errors.js'
import { compileRoutes } from './access.js'
import { normalizePath } from './normalize.js'
import { ADMIN_KEY_HEADER, ADMIN_PREFIX, adminKeyMatches } from '../shared/admin-path.js'

/** Probes must work without a key. */
const KEY_EXEMPT = new Set(['/-/healthz', '/-/readyz', '/-/token'])
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/
/** name or IPv4 or [IPv6], then an optional port: nothing else (no userinfo, no trailing junk). */
const HOST_FORM = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/
/** Methods forwarded at all; anything else (TRACE, PROPFIND...) is refused before routing. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

export type RefusalCounter = (code: ErrorCode) => void

export interface Guard {
  /**
   * Writes a refusal and returns true, or returns false to let the request through.
   * `adminListener`: the separate admin port, which serves no OAC path and needs no local key.
   */
  check(req: IncomingMessage, res: ServerResponse, adminListener?: boolean): boolean
  /** CONNECT and Upgrade requests never reach Fastify. */
  refuseSocket(req: IncomingMessage, socket: Duplex, code: 'connect_refused' | 'upgrade_refused'): void
}

export function createGuard(config: ProxyConfig, onRefuse: RefusalCounter = () => {}, adminKey?: string): Guard {
  const { security } = config
  const allowedHosts = new Set(security.allowedHosts)
  const allowedOrigins = new Set(security.allowedOrigins)
  const keyDigests = security.localKeys.map((k) => sha256(k.reveal()))
  const keyHeader = security.localKeyHeader
  // only routes with access rules are looked up per request (none: no lookup at all)
  const routes = compileRoutes(config.routes)
  const checkedRoutes = routes.some((r) => r.check !== undefined)
  if (
    config.listen.tcp &&
    !LOOPBACK_NAMES.has(config.listen.host) &&
    config.listen.host !== '0.0.0.0' &&
    config.listen.host !== '::'
  ) {
    allowedHosts.add(config.listen.host.toLowerCase())
  }

  function hostAllowed(req: IncomingMessage): boolean {
    // exactly one Host header (RFC 9112 3.2), of the strict form name[:port] or [v6][:port]
    if (hostHeaderCount(req.rawHeaders) !== 1) return false
    const h = (req.headers.host as string).toLowerCase()
    const m = HOST_FORM.exec(h)
    if (!m) return false
    if (allowedHosts.has(h)) return true
    const name = m[1] as string
    return LOOPBACK_NAMES.has(name) || LOOPBACK_V4.test(name) || allowedHosts.has(name)
  }

  function keyValid(req: IncomingMessage): boolean {
    const raw = req.headers[keyHeader]
    let presented = Array.isArray(raw) ? raw[0] : raw
    if (presented === undefined) return false
    if (keyHeader === 'authorization') {
      const m = /^bearer\s+(.+)$/i.exec(presented)
      if (!m) return false
      presented = (m[1] as string).trim()
    }
    const digest = sha256(presented)
    let ok = false
    // compare against every key, without stopping early
    for (const d of keyDigests) ok = timingSafeEqual(d, digest) || ok
    return ok
  }

  function refuse(res: ServerResponse, err: ProxyError, headers: Record<string, string> = {}): true {
    onRefuse(err.code)
    const body = JSON.stringify(err.toBody())
    res.writeHead(err.httpStatus, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      ...headers,
    })
    res.end(body)
    return true
  }

  return {
    check(req, res, adminListener = false) {
      const url = req.url ?? ''
      if (url.charCodeAt(0) !== 47 /* '/' */) {
        return refuse(
          res,
          new ProxyError('absolute_form_refused', 'only paths are accepted as request targets', {
            hint: 'Send GET /api/20210901/... to the proxy; it is not a forward proxy.',
          }),
        )
      }
      if (!METHODS.has(req.method ?? '')) {
        return refuse(
          res,
          new ProxyError('method_forbidden', `${String(req.method).slice(0, 16)} is not supported`, {
            hint: `Supported: ${[...METHODS].join(', ')}.`,
          }),
        )
      }
      if (!hostAllowed(req)) {
        return refuse(
          res,
          new ProxyError('host_not_allowed', 'the Host header is not one this proxy answers to', {
            hint: 'Call it as localhost or 127.0.0.1, or add the name to security.allowedHosts.',
          }),
        )
      }
      const q = url.indexOf('?')
      const rawPath = q < 0 ? url : url.slice(0, q)
      if (!pathSafe(rawPath)) {
        return refuse(
          res,
          new ProxyError('path_refused', 'the path contains dot-segments, encoded slashes, backslashes or NUL', {
            hint: 'Send the normalised path.',
          }),
        )
      }
      // from here on, everything (key exemptions, admin scope, route, rules, Fastify, the upstream) sees one path
      const normal = normalizePath(rawPath)
      if (!normal.ok) {
        return refuse(res, new ProxyError('path_refused', normal.reason, { hint: 'Send the normalised path.' }))
      }
      const path = normal.path
      if (path !== rawPath) req.url = q < 0 ? path : path + url.slice(q)
      const origin = req.headers.origin
      const site = req.headers['sec-fetch-site']
      let corsOrigin: string | undefined
      if (origin !== undefined) {
        const o = origin.toLowerCase()
        const self = `http://${(req.headers.host ?? '').toLowerCase()}`
        if (allowedOrigins.has(o)) corsOrigin = origin
        else if (o !== self) {
          return refuse(
            res,
            new ProxyError('origin_not_allowed', 'requests from web pages of other origins are refused', {
              hint: 'Add the origin to security.allowedOrigins if that page is yours.',
            }),
          )
        }
      }
      if ((site === 'cross-site' || site === 'same-site') && corsOrigin === undefined) {
        return refuse(
          res,
          new ProxyError('cross_site_refused', 'the browser marked this request as coming from another site'),
        )
      }
      if (corsOrigin !== undefined) {
        res.setHeader('access-control-allow-origin', corsOrigin)
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
      }
      if (
        keyDigests.length > 0 &&
        !adminListener &&
        !KEY_EXEMPT.has(path) &&
        !keyValid(req) &&
        !adminKeyMatches(req.headers[ADMIN_KEY_HEADER], adminKey)
      ) {
        return refuse(
          res,
          new ProxyError('local_key_required', 'a valid local key is required', {
            hint:
              keyHeader === 'authorization'
                ? 'Send Authorization: Bearer <local key>.'
                : `Send the local key in the ${keyHeader} header.`,
          }),
          { 'www-authenticate': 'Bearer realm="oac-token-proxy"' },
        )
      }
      if (checkedRoutes && !path.startsWith(ADMIN_PREFIX)) {
        const route = routes.find((r) => r.prefix === '/' || path.startsWith(r.prefix) || path === r.bare)
        if (route?.check) {
          const denied = route.check(req.method ?? 'GET', path, methodOverrides(req, q < 0 ? '' : url.slice(q + 1)))
          if (denied) return refuse(res, denied)
        }
      }
      return false
    },
    refuseSocket(_req, socket, code) {
      onRefuse(code)
      const err =
        code === 'connect_refused'
          ? new ProxyError(code, 'CONNECT is not supported: this is not a forward proxy')
          : new ProxyError(code, 'protocol upgrades are not supported')
      const body = JSON.stringify(err.toBody())
      socket.end(
        `HTTP/1.1 ${err.httpStatus} ${err.httpStatus === 405 ? 'Method Not Allowed' : 'Forbidden'}\r\n` +
          `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `connection: close\r\n\r\n${body}`,
      )
    },
  }
}

/** Headers some servers (JAX-RS filters, Rails, Express middleware) read as the real method. */
const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override']

/** Every method a caller asked for besides the request line: override headers and `_method` query parameters. */
export function methodOverrides(req: IncomingMessage, query: string): string[] {
  const out: string[] = []
  for (const name of METHOD_OVERRIDE_HEADERS) {
    const v = req.headers[name]
    if (v === undefined) continue
    for (const item of (Array.isArray(v) ? v : [v]).join(',').split(',')) out.push(item)
  }
  // parsed, not searched: `%5Fmethod` is `_method` once decoded
  if (query !== '') {
    for (const [k, v] of new URLSearchParams(query)) if (k.toLowerCase() === '_method') out.push(v)
  }
  return out.map((m) => m.trim().toUpperCase()).filter((m) => m !== '')
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

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest()
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
