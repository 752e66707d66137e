// Route access rules: readOnly, allowed methods, allowed and denied path globs, compiled once.
import type { IncomingMessage } from 'node:http'
import type { AccessRules, RouteConfig } from '../config/types.js'
import { ProxyError } from '../shared/errors.js'
import { decodedForMatch } from './normalize.js'

const READ_METHODS = new Set(['GET', 'HEAD'])

/**
 * `*` matches within one segment, `**` across segments; everything else literally, ignoring case
 * (an upstream may treat `/CATALOG` as `/catalog`). A trailing `/**` also matches the path without
 * it: `/api/x/**` covers `/api/x`, `/api/x/` and everything below.
 */
export function globToRegExp(glob: string): RegExp {
  let out = ''
  let tail = ''
  if (glob.endsWith('/**')) {
    glob = glob.slice(0, -3)
    tail = '(?:/.*)?'
  }
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '.*'
        i++
      } else out += '[^/]*'
    } else out += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${out}${tail}$`, 'i')
}

export interface CompiledRoute {
  prefix: string
  /** The prefix without its trailing slash: `/api` for `/api/`, which the route also serves. */
  bare: string
  /**
   * `path` is the normalised path, `overrides` the methods a caller asked for with
   * X-HTTP-Method-Override and the like: each is checked as if it were the request's method.
   */
  check: ((method: string, path: string, overrides: readonly string[]) => ProxyError | undefined) | undefined
}

export function compileAccess(rules: AccessRules | undefined): CompiledRoute['check'] {
  if (!rules) return undefined
  const methods = rules.readOnly
    ? new Set([...READ_METHODS].filter((m) => !rules.allowMethods || rules.allowMethods.includes(m)))
    : rules.allowMethods
      ? new Set(rules.allowMethods)
      : undefined
  const allow = rules.allowPaths?.map(globToRegExp)
  const deny = rules.denyPaths?.map(globToRegExp)
  if (!methods && !allow && !deny) return undefined
  return (method, path, overrides) => {
    if (methods && !methods.has(method)) {
      return new ProxyError(
        'method_forbidden',
        `${method} is not allowed here${rules.readOnly ? ' (read-only route)' : ''}`,
        {
          hint: `Allowed: ${[...methods].join(', ')}.`,
        },
      )
    }
    const override = methods ? overrides.find((m) => !methods.has(m)) : undefined
    if (override !== undefined) {
      return new ProxyError(
        'method_forbidden',
        `a method override to ${override.slice(0, 16)} is not allowed here${rules.readOnly ? ' (read-only route)' : ''}`,
        {
          hint: `Allowed: ${[...(methods as Set<string>)].join(', ')}. Drop the X-HTTP-Method-Override header (or _method parameter).`,
        },
      )
    }
    const target = decodedForMatch(path)
    if (deny?.some((r) => r.test(target)) || (allow && !allow.some((r) => r.test(target)))) {
      return new ProxyError('path_forbidden', 'this path is not allowed by the access rules', {
        hint: 'See access.allowPaths / access.denyPaths in the configuration.',
      })
    }
    return undefined
  }
}

/** Routes longest prefix first, each with its compiled rules. */
export function compileRoutes(routes: readonly RouteConfig[]): CompiledRoute[] {
  return [...routes]
    .sort((a, b) => b.prefix.length - a.prefix.length)
    .map((r) => ({ prefix: r.prefix, bare: r.prefix.slice(0, -1), check: compileAccess(r.access) }))
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
  // parsed, not searched: `%5Fmethod` is `_method` once decoded; `;` separates parameters for some servers too
  if (query !== '') {
    for (const [k, v] of new URLSearchParams(query.replaceAll(';', '&'))) if (k.toLowerCase() === '_method') out.push(v)
  }
  return out.map((m) => m.trim().toUpperCase()).filter((m) => m !== '')
}
