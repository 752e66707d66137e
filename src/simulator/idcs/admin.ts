// A sliver of the IDCS admin (SCIM) API: list, read and PATCH applications, behind the admin scope.

import { jwtVerify } from 'jose'
import { IDCS_ADMIN_SCOPE, MAX_SMALL_BODY_BYTES } from '../constants.js'
import { splitScope } from '../access-tokens.js'
import { BodyTooLargeError, readBody, sendJson } from '../http-util.js'
import type { RequestContext } from '../http-util.js'
import type { AdminApp } from './admin-apps.js'
import type { IdcsDeps } from './deps.js'

export const APPS_PATH = '/admin/v1/Apps'
const APP_SCHEMA = 'urn:ietf:params:scim:schemas:oracle:idcs:App'
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error'
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse'
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp'
const SCIM_JSON = /^application\/(scim\+)?json\s*(;|$)/i

/** Attributes a PATCH may replace, with the type each must have. */
const PATCHABLE: Record<string, 'string' | 'boolean'> = {
  displayName: 'string',
  active: 'boolean',
  allowOffline: 'boolean',
}

function scimError(ctx: RequestContext, status: number, detail: string, scimType?: string): void {
  ctx.req.resume()
  const body: Record<string, unknown> = { schemas: [ERROR_SCHEMA], detail, status: String(status) }
  if (scimType) body.scimType = scimType
  sendJson(ctx, status, body)
}

function view(app: AdminApp, idcsUrl: string): Record<string, unknown> {
  return {
    schemas: [APP_SCHEMA],
    id: app.id,
    displayName: app.displayName,
    active: app.active,
    allowOffline: app.allowOffline,
    meta: {
      resourceType: 'App',
      lastModified: new Date(app.lastModifiedMs).toISOString(),
      location: `${idcsUrl}${APPS_PATH}/${app.id}`,
    },
  }
}

/** True when the bearer token is valid now and carries the IDCS admin scope; otherwise answers 401. */
async function authorized(ctx: RequestContext, deps: IdcsDeps): Promise<boolean> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? '')
  if (!match?.[1]) {
    scimError(ctx, 401, 'Authorization is required: send a bearer token.')
    return false
  }
  try {
    const { payload } = await jwtVerify(match[1], deps.keys.publicKey, {
      algorithms: ['RS256'],
      currentDate: new Date(deps.state.clock.now()),
    })
    if (splitScope(typeof payload.scope === 'string' ? payload.scope : '').includes(IDCS_ADMIN_SCOPE)) return true
  } catch {
    scimError(ctx, 401, 'The access token is not valid.')
    return false
  }
  scimError(ctx, 401, `The access token does not carry the ${IDCS_ADMIN_SCOPE} scope.`)
  return false
}

/** Apply SCIM PatchOp operations to a copy; a string is the SCIM error to answer. */
function patched(app: AdminApp, body: unknown): AdminApp | string {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  if (!Array.isArray(b.schemas) || !b.schemas.includes(PATCH_SCHEMA)) return `schemas must contain ${PATCH_SCHEMA}.`
  if (!Array.isArray(b.Operations) || b.Operations.length === 0) return 'Operations must be a non-empty array.'
  const next: Record<string, unknown> = { ...app }
  for (const raw of b.Operations as unknown[]) {
    const op = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>
    if (op.op !== 'replace' && op.op !== 'add') return 'Only replace and add operations are supported.'
    const values =
      typeof op.path === 'string'
        ? { [op.path]: op.value }
        : typeof op.value === 'object' && op.value !== null
          ? (op.value as Record<string, unknown>)
          : {}
    if (Object.keys(values).length === 0) return 'An operation needs a path or an object value.'
    for (const [path, value] of Object.entries(values)) {
      const type = PATCHABLE[path]
      if (!type) return `Attribute ${path} cannot be modified.`
      if (typeof value !== type) return `Attribute ${path} must be a ${type}.`
      next[path] = value
    }
  }
  return next as unknown as AdminApp
}

async function patchApp(ctx: RequestContext, deps: IdcsDeps, app: AdminApp): Promise<void> {
  if (!SCIM_JSON.test(ctx.req.headers['content-type'] ?? '')) {
    scimError(ctx, 415, 'Content-Type must be application/scim+json or application/json.')
    return
  }
  let body: unknown
  try {
    body = JSON.parse((await readBody(ctx.req, MAX_SMALL_BODY_BYTES)).toString('utf8'))
  } catch (err) {
    if (err instanceof BodyTooLargeError || err instanceof SyntaxError) {
      scimError(ctx, 400, 'The request body is not valid JSON.', 'invalidSyntax')
    }
    return
  }
  const result = patched(app, body)
  if (typeof result === 'string') {
    scimError(ctx, 400, result, 'invalidValue')
    return
  }
  Object.assign(app, result, { lastModifiedMs: deps.state.clock.now() })
  sendJson(ctx, 200, view(app, deps.urls.idcsUrl))
}

/** /admin/v1/Apps and /admin/v1/Apps/{id}. */
export async function handleApps(ctx: RequestContext, deps: IdcsDeps): Promise<void> {
  if (!(await authorized(ctx, deps))) return
  const rest = ctx.url.pathname.slice(APPS_PATH.length)
  const method = ctx.req.method
  if (rest === '' || rest === '/') {
    if (method !== 'GET') return scimError(ctx, 405, `${method} is not allowed here.`)
    ctx.req.resume()
    const resources = deps.apps.list().map((a) => view(a, deps.urls.idcsUrl))
    const total = resources.length
    sendJson(ctx, 200, {
      schemas: [LIST_SCHEMA],
      totalResults: total,
      Resources: resources,
      startIndex: 1,
      itemsPerPage: total,
    })
    return
  }
  let id: string
  try {
    id = decodeURIComponent(rest.slice(1))
  } catch {
    id = rest.slice(1)
  }
  const app = deps.apps.get(id)
  if (!app) return scimError(ctx, 404, `Resource ${id} not found.`)
  if (method === 'GET') {
    ctx.req.resume()
    sendJson(ctx, 200, view(app, deps.urls.idcsUrl))
  } else if (method === 'PATCH') {
    await patchApp(ctx, deps, app)
  } else {
    scimError(ctx, 405, `${method} is not allowed here.`)
  }
}
