// One proxied route: an @fastify/http-proxy instance sending requests under its prefix to its upstream with a fresh token.
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
// before @fastify/http-proxy: its reply-from then gets undici's dispatchers without the rest of undici
import '../net/undici.js'
import { fastifyHttpProxy } from '@fastify/http-proxy'
import type { RouteConfig } from '../config/types.js'
import { ProxyError } from '../shared/errors.js'
import { ADMIN_KEY_HEADER } from '../shared/admin-path.js'
import type { TokenManager } from '../token/manager.js'
import { droppedRequestHeaders, localLocation, upstreamRequestHeaders } from './headers.js'
import { createPreHandler } from './pre-handler.js'
import { replayAfter401 } from './replay.js'
import { streamedUntilClose } from './transfer-gc.js'
import type { ProxyRequestState } from './request-state.js'
import type { RouteContext } from './route-context.js'
import { sendError } from './send-error.js'
import { mapUpstreamError } from './upstream-errors.js'

/** Answers up to this size are collected and sent as one buffer; larger ones stream. */
const SMALL_BODY_BYTES = 64 * 1024

/** The upstream's answer as @fastify/reply-from hands it over. */
interface UpstreamResponse {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  stream: Readable
}

/** Sends the upstream answer on: a small body as one buffer, a larger one as a stream; a 401 may be replayed first. */
function createOnResponse(route: RouteConfig, manager: TokenManager, ctx: RouteContext) {
  return function onResponse(request: FastifyRequest, reply: FastifyReply, res: UpstreamResponse): void {
    ctx.metrics.upstream(route.prefix, res.statusCode)
    if (res.statusCode === 401 && replayAfter401(request, reply, res, route, manager, ctx)) return
    const length = Number(res.headers['content-length'])
    if (length > 0 && length <= SMALL_BODY_BYTES) {
      // a small body is sent as one buffer: cheaper than piping a stream for a 1 KB JSON answer
      const chunks: Buffer[] = []
      res.stream.on('data', (c: Buffer) => chunks.push(c))
      res.stream.once('end', () => reply.send(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)))
      res.stream.once('error', (err: Error) => reply.send(err))
      return
    }
    // a body of unknown or large size: its buffers are collected as it streams (an empty one has none)
    if (length !== 0 && request.method !== 'HEAD') streamedUntilClose(reply.raw, ctx.transferGc)
    reply.send(res.stream)
  }
}

/** Answers a failed upstream request: the caller's own abort as such, anything else mapped to 502/503/504. */
function createOnError(route: RouteConfig, upstreamHost: string, ctx: RouteContext) {
  return function onError(reply: FastifyReply, { error }: { error: unknown }): void {
    // an upload the caller aborted fails upstream too: that is the caller's abort, not an upstream failure
    if (ctx.clientAborted(reply.request, error)) {
      sendError(reply, new ProxyError('bad_request', 'the client closed the connection'))
      return
    }
    ctx.counters.upstreamErrors++
    ctx.metrics.upstream(route.prefix, 'error')
    const mapped = mapUpstreamError(error, upstreamHost)
    reply.log.warn({ event: 'upstream.failed', route: route.prefix, err: mapped }, mapped.message)
    sendError(reply, mapped)
  }
}

/** Keeps where the request goes so a replay can send it again. */
function handler(request: FastifyRequest, reply: FastifyReply, dest: string, options: unknown) {
  const state = request.proxyState as ProxyRequestState
  state.dest = dest
  state.fromOptions = options
  return reply.from(dest, options as never)
}

/** One @fastify/http-proxy instance: requests under route.prefix go to route.upstream with the manager's token. */
export async function registerRoute(
  app: FastifyInstance,
  route: RouteConfig,
  manager: TokenManager,
  ctx: RouteContext,
): Promise<void> {
  const upstream = new URL(route.upstream)
  const upstreamOrigin = upstream.origin
  /** Where the plugin mounts the route: its prefix without the trailing slash ('' for '/'). */
  const mountPrefix = route.prefix === '/' ? '' : route.prefix.replace(/\/$/, '')
  const dropped = droppedRequestHeaders(ctx.config.security.localKeyHeader, ADMIN_KEY_HEADER)

  // the plugin's types predate async pre-handlers; options are checked at run time by the plugin
  await app.register(fastifyHttpProxy as unknown as FastifyPluginAsync<Record<string, unknown>>, {
    upstream: upstreamOrigin + upstream.pathname.replace(/\/$/, ''),
    ...(mountPrefix === '' ? {} : { prefix: mountPrefix }),
    undici: ctx.dispatcher as unknown as Record<string, unknown>,
    disableRequestLogging: true,
    preHandler: createPreHandler(route, manager, ctx),
    handler,
    replyOptions: {
      retryDelay: () => null,
      rewriteRequestHeaders(request: FastifyRequest, headers: Record<string, unknown>) {
        return upstreamRequestHeaders(headers, dropped, (request.proxyState as ProxyRequestState).token) as never
      },
      rewriteHeaders(headers: Record<string, unknown>) {
        return localLocation(headers, upstreamOrigin, mountPrefix) as never
      },
      onResponse: createOnResponse(route, manager, ctx),
      onError: createOnError(route, upstream.host, ctx),
    },
  })
}
