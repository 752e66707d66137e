// The 401 replay: an upstream 401 renews the token, and a replayable request is sent once more with the new one.
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RouteConfig } from '../config/types.js'
import type { TokenManager } from '../token/manager.js'
import type { ProxyRequestState } from './request-state.js'
import type { RouteContext } from './route-context.js'
import { sendError, toProxyError } from './send-error.js'

/**
 * After an upstream 401: replays the request (true) when it is replayable and was not replayed yet; otherwise
 * renews the token for the next caller and returns false, and the 401 is passed on.
 */
export function replayAfter401(
  request: FastifyRequest,
  reply: FastifyReply,
  res: { stream: Readable },
  route: RouteConfig,
  manager: TokenManager,
  ctx: RouteContext,
): boolean {
  const state = request.proxyState as ProxyRequestState
  if (state.replayable && !state.replayed) {
    replay(request, reply, res, state, route, manager, ctx)
    return true
  }
  // cannot replay (streamed body, or already replayed): pass the 401 on, but renew the token for the next caller
  manager.forceRefresh(state.token).catch(() => {})
  return false
}

/** Drops the 401, forces a refresh past the rejected token, and sends the request again with the fresh one. */
function replay(
  request: FastifyRequest,
  reply: FastifyReply,
  res: { stream: Readable },
  state: ProxyRequestState,
  route: RouteConfig,
  manager: TokenManager,
  ctx: RouteContext,
): void {
  const { counters, metrics } = ctx
  state.replayed = true
  counters.replays++
  metrics.replay(route.prefix)
  res.stream.resume()
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
  const rejected = state.token
  manager.forceRefresh(rejected).then(
    (token) => {
      state.token = token.value
      if (state.bufferedBody) request.body = Readable.from([state.bufferedBody])
      request.log.info(
        { event: 'upstream.replayed_after_401', fresh: token.value !== rejected },
        'upstream answered 401; replayed once with a refreshed token',
      )
      reply.from(state.dest, state.fromOptions as never)
    },
    (err: unknown) => {
      counters.tokenErrors++
      sendError(reply, toProxyError(err, request))
    },
  )
}
