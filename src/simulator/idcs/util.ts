// Shared pieces of the simulated IDCS endpoints: OAuth error answers, client authentication, forms, HTML pages.

import { authenticateRequestClient } from './client-auth.js'
import type { ClientAuthResult } from './client-auth.js'
import { IDCS_ASSERTION_AUDIENCE, MAX_SMALL_BODY_BYTES } from '../constants.js'
import { BodyTooLargeError, readBody, sendBody, sendJson } from '../http-util.js'
import type { RequestContext } from '../http-util.js'
import type { IdcsDeps } from './deps.js'

export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }

export function oauthError(
  ctx: RequestContext,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  sendJson(ctx, status, { error, error_description: description }, { ...NO_STORE, ...headers })
}

/**
 * The `aud` values accepted in JWT assertions: IDCS's documented ones, and the token endpoint URL,
 * which RFC 7523 section 3 names as an audience a server accepts as its own.
 */
export function assertionAudiences(deps: IdcsDeps): string[] {
  return [IDCS_ASSERTION_AUDIENCE, deps.urls.idcsUrl, deps.urls.idcsUrl + '/', deps.urls.idcsUrl + '/oauth2/v1/token']
}

/** Authenticate the client of a form request and record how in the call. */
export async function authenticate(
  ctx: RequestContext,
  deps: IdcsDeps,
  form: URLSearchParams,
): Promise<ClientAuthResult> {
  const client = await authenticateRequestClient(ctx.req.headers, form, deps.clients, (assertion, clientId) =>
    deps.clientKeys.verify(assertion, {
      kind: 'client',
      clientId,
      nowMs: deps.state.clock.now(),
      audiences: assertionAudiences(deps),
      isUser: () => false,
    }),
  )
  ctx.call.clientAuth = client.kind
  return client
}

/** 401 invalid_client, with a Basic challenge when Basic was tried. */
export function rejectClient(ctx: RequestContext, client: { reason?: string }): void {
  const challenge: Record<string, string> =
    ctx.req.headers.authorization !== undefined ? { 'www-authenticate': 'Basic realm="IDCS"' } : {}
  const description = client.reason
    ? `Client authentication failed: ${client.reason}.`
    : 'Client authentication failed.'
  oauthError(ctx, 401, 'invalid_client', description, challenge)
}

/**
 * Read an application/x-www-form-urlencoded body. On a wrong content type or an oversized body
 * `onError` answers and undefined is returned (also when the client went away).
 */
export async function readForm(
  ctx: RequestContext,
  onError: (message: string) => void,
): Promise<URLSearchParams | undefined> {
  const contentType = ctx.req.headers['content-type'] ?? ''
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
    ctx.req.resume()
    onError('Content-Type must be application/x-www-form-urlencoded.')
    return undefined
  }
  try {
    return new URLSearchParams((await readBody(ctx.req, MAX_SMALL_BODY_BYTES)).toString('utf8'))
  } catch (err) {
    if (err instanceof BodyTooLargeError) onError('Request body too large.')
    return undefined
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A small HTML page; `bodyHtml` must already be escaped. */
export function sendHtml(ctx: RequestContext, status: number, title: string, bodyHtml: string): void {
  const page =
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1>${bodyHtml}</body></html>\n`
  ctx.req.resume()
  sendBody(ctx, status, page, 'text/html;charset=UTF-8', NO_STORE)
}
