// The simulated OAC REST API (/api/20210901/...) and the /ui/ redirect used for audience discovery.

import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { JWTPayload } from 'jose'
import {
  API_PREFIX,
  DEFAULT_DOWNLOAD_BYTES,
  MAX_DOWNLOAD_BYTES,
  MAX_SMALL_BODY_BYTES,
  SIM_APP_NAME,
} from '../constants.js'
import { applyFault } from '../faults.js'
import type { SimFaultQueue } from '../faults.js'
import { BodyTooLargeError, consumeBody, createContext, readBody, sendJson, startResponse } from '../http-util.js'
import type { RequestContext } from '../http-util.js'
import type { SigningKeys } from '../keys.js'
import { authenticateOac } from './auth.js'
import { CATALOG, CONNECTIONS, DATAFLOWS, DATASETS } from './fixtures.js'
import { hashUpload, streamDownload } from './streams.js'
import type { SnapshotStore } from './snapshots.js'
import type { SimState } from '../state.js'

export interface OacDeps {
  state: SimState
  keys: SigningKeys
  audience: string
  faults: SimFaultQueue
  snapshots: SnapshotStore
  urls: { idcsUrl: string; oacUrl: string }
}

type Route = (ctx: RequestContext, token: JWTPayload, params: string[]) => Promise<void> | void

function error(ctx: RequestContext, status: number, code: string, message: string): void {
  ctx.req.resume()
  sendJson(ctx, status, { code, message })
}

function accepted(ctx: RequestContext, workRequestId: string): void {
  sendJson(ctx, 202, { workRequestId }, { 'oa-work-request-id': workRequestId })
}

async function readJson(ctx: RequestContext): Promise<unknown> {
  try {
    const body = await readBody(ctx.req, MAX_SMALL_BODY_BYTES)
    return JSON.parse(body.toString('utf8')) as unknown
  } catch (err) {
    if (err instanceof BodyTooLargeError) error(ctx, 413, 'PayloadTooLarge', err.message)
    else error(ctx, 400, 'InvalidParameter', 'The request body is not valid JSON.')
    return undefined
  }
}

async function createSnapshot(ctx: RequestContext, deps: OacDeps): Promise<void> {
  const body = await readJson(ctx)
  if (body === undefined) return
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  if (b.type !== 'CREATE') {
    error(ctx, 400, 'InvalidParameter', 'type must be CREATE.')
  } else if (typeof b.name !== 'string' || b.name.length === 0) {
    error(ctx, 400, 'InvalidParameter', 'name is required.')
  } else if (typeof b.password !== 'string' || b.password.length === 0) {
    error(ctx, 400, 'InvalidParameter', 'password is required.')
  } else {
    const description = typeof b.description === 'string' ? b.description : ''
    accepted(ctx, deps.snapshots.create(b.name, description))
  }
}

function queryObject(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {}
  for (const [key, value] of url.searchParams) {
    const prior = query[key]
    query[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value]
  }
  return query
}

async function echo(ctx: RequestContext, token: JWTPayload): Promise<void> {
  const { req } = ctx
  let bodyBytes: number
  try {
    bodyBytes = await consumeBody(req)
  } catch {
    return
  }
  sendJson(ctx, 200, {
    method: req.method,
    path: ctx.url.pathname,
    query: queryObject(ctx.url),
    headers: ctx.call.headers,
    bodyBytes,
    tokenSub: token.sub,
    tokenJti: token.jti,
  })
}

function download(ctx: RequestContext): void {
  const raw = ctx.url.searchParams.get('bytes')
  const bytes = raw === null ? DEFAULT_DOWNLOAD_BYTES : /^\d{1,10}$/.test(raw) ? Number(raw) : NaN
  if (!(bytes >= 0 && bytes <= MAX_DOWNLOAD_BYTES)) {
    error(ctx, 400, 'InvalidParameter', `bytes must be an integer from 0 to ${MAX_DOWNLOAD_BYTES}.`)
    return
  }
  ctx.req.resume()
  streamDownload(ctx, bytes, 'application/pdf')
}

function list(items: unknown[]): Route {
  return (ctx) => {
    ctx.req.resume()
    sendJson(ctx, 200, items)
  }
}

/** Routes below the API prefix: method, path pattern (segments, ':x' captures one), handler. */
function routes(deps: OacDeps): Array<[string, string, Route]> {
  return [
    ['GET', 'snapshots', (ctx) => sendJson(ctx, 200, { items: deps.snapshots.list() })],
    ['POST', 'snapshots', (ctx) => createSnapshot(ctx, deps)],
    [
      'GET',
      'snapshots/:id',
      (ctx, _t, [id]) => {
        const snapshot = deps.snapshots.get(id ?? '')
        if (snapshot) sendJson(ctx, 200, snapshot)
        else error(ctx, 404, 'NotFound', `Snapshot ${id} not found.`)
      },
    ],
    [
      'DELETE',
      'snapshots/:id',
      (ctx, _t, [id]) => {
        const wr = deps.snapshots.delete(id ?? '')
        if (wr) accepted(ctx, wr)
        else error(ctx, 404, 'NotFound', `Snapshot ${id} not found.`)
      },
    ],
    [
      'GET',
      'workRequests/:id',
      (ctx, _t, [id]) => {
        const wr = deps.snapshots.workRequest(id ?? '')
        if (wr) sendJson(ctx, 200, wr)
        else error(ctx, 404, 'NotFound', `Work request ${id} not found.`)
      },
    ],
    [
      'GET',
      'catalog',
      (ctx) => {
        const type = ctx.url.searchParams.get('type')
        sendJson(ctx, 200, type === null ? CATALOG : CATALOG.filter((i) => i.type === type))
      },
    ],
    ['GET', 'connections', list(CONNECTIONS)],
    ['GET', 'datasets', list(DATASETS)],
    ['GET', 'dataflows', list(DATAFLOWS)],
    ['GET', 'workbooks/:id/exports/:exportId', download],
    [
      'PUT',
      'datasets/:name/data',
      async (ctx) => {
        const result = await hashUpload(ctx).catch(() => undefined)
        if (result) sendJson(ctx, 200, result)
      },
    ],
    ['*', 'sim/echo', echo],
  ]
}

function match(pattern: string, segments: string[]): string[] | undefined {
  const parts = pattern.split('/')
  if (parts.length !== segments.length) return undefined
  const params: string[] = []
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? ''
    const segment = segments[i] ?? ''
    if (part.startsWith(':')) {
      if (segment.length === 0) return undefined
      params.push(decodeURIComponent(segment))
    } else if (part !== segment) {
      return undefined
    }
  }
  return params
}

function redirectToLogin(ctx: RequestContext, deps: OacDeps): void {
  const target = new URL(deps.urls.idcsUrl + '/oauth2/v1/authorize')
  target.searchParams.set('client_id', SIM_APP_NAME + '_APPID')
  target.searchParams.set('idcs_app_name', SIM_APP_NAME)
  target.searchParams.set('response_type', 'code')
  target.searchParams.set('scope', 'openid')
  target.searchParams.set('redirect_uri', deps.urls.oacUrl + '/ui/')
  target.searchParams.set('state', randomBytes(12).toString('base64url'))
  ctx.req.resume()
  if (startResponse(ctx, 302, { location: target.toString(), 'content-length': 0 })) ctx.res.end()
}

async function handleApi(ctx: RequestContext, deps: OacDeps, table: Array<[string, string, Route]>) {
  const token = await authenticateOac(ctx, deps.keys, deps.audience)
  if (!token) return
  const rest = ctx.url.pathname.slice(API_PREFIX.length)
  const segments = rest.split('/')
  let methodMismatch = false
  for (const [method, pattern, route] of table) {
    let params: string[] | undefined
    try {
      params = match(pattern, segments)
    } catch {
      break // undecodable %-escape: not a path we serve
    }
    if (!params) continue
    if (method !== '*' && method !== ctx.req.method) {
      methodMismatch = true
      continue
    }
    await route(ctx, token, params)
    return
  }
  if (methodMismatch) error(ctx, 405, 'MethodNotAllowed', `${ctx.req.method} is not allowed here.`)
  else error(ctx, 404, 'NotFound', 'Resource not found.')
}

export function createOacHandler(deps: OacDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const table = routes(deps)
  return async (req, res) => {
    const ctx = createContext('oac', req, res, deps.state)
    deps.state.stats.oacRequests++
    const fault = deps.faults.take(false)
    const outcome = fault ? await applyFault(ctx, 'oac', fault) : 'continue'
    if (outcome === 'handled') return
    const path = ctx.url.pathname
    if (path.startsWith(API_PREFIX)) {
      await handleApi(ctx, deps, table)
    } else if (req.method === 'GET' && (path === '/ui' || path.startsWith('/ui/'))) {
      redirectToLogin(ctx, deps)
    } else {
      error(ctx, 404, 'NotFound', 'Resource not found.')
    }
  }
}
