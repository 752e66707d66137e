// Assembles the Fastify server: admin routes, then every other path proxied to OAC with a fresh token.
import { Readable } from 'node:stream'
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import { fastifyHttpProxy } from '@fastify/http-proxy'
import type { Dispatcher } from 'undici'
import { createAgent } from '../net/http-agent.js'
import type { ProxyConfig, RouteConfig } from '../config/types.js'
import { ProxyError, type ErrorCode } from '../shared/errors.js'
import type { RequestListener, Server } from 'node:http'
import { createGuard } from './guards.js'
import { createGuardedServer, type ListenerScope } from './listeners.js'
import type { Logger } from '../shared/log.js'
import type { TokenManager } from '../token/manager.js'
import { registerAdmin } from '../admin/routes.js'
import { newCounters, type ProxyCounters } from '../admin/counters.js'
import { ADMIN_KEY_HEADER, ADMIN_PREFIX } from '../shared/admin-path.js'
import { Metrics } from '../admin/metrics.js'
import { mapUpstreamError } from './upstream-errors.js'
import type { ProxyRequestState } from './request-state.js'
import { Slots, type Release } from './slots.js'
import { NO_ROUTE_SCHEMAS } from './route-schemas.js'

export interface ServerDeps {
  logger: Logger
  /** Token managers by credential name; every route's credential must be present. */
  managers: ReadonlyMap<string, TokenManager>
  /** Dispatcher for upstream requests; by default an undici Agent sized from the config. */
  dispatcher?: Dispatcher
  metrics?: Metrics
  /** Secret that lets local commands (token, status) ask this proxy; see the state lock file. */
  adminKey?: string
  /** Build information shown by /-/status. */
  startedAtMs?: number
}

/** What every route registration shares. */
interface RouteContext {
  dispatcher: Dispatcher
  config: ProxyConfig
  counters: ProxyCounters
  metrics: Metrics
  /** Records a request whose caller went away (true), or returns false when the caller is still there. */
  clientAborted: (request: FastifyRequest, err: unknown) => boolean
}

export interface BuiltServer {
  app: FastifyInstance
  metrics: Metrics
  /** Another raw server with the same guards and handler (unix socket, admin listener). */
  createExtraServer(scope?: ListenerScope): Server
  counters: ProxyCounters
}

/** Answers up to this size are collected and sent as one buffer; larger ones stream. */
const SMALL_BODY_BYTES = 64 * 1024

/** Never forwarded; `expect` is answered by this proxy (undici refuses to send it). */
const HOP_BY_HOP_REQUEST_HEADERS = [
  'proxy-authorization',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'expect',
]

/** The caller closed the connection (or reset it) before the request was read or answered. */
function callerGone(request: FastifyRequest): boolean {
  const raw = request.raw
  return (
    (raw.destroyed && !raw.complete) ||
    raw.socket?.destroyed === true ||
    (raw as { aborted?: boolean }).aborted === true
  )
}

/** Builds (never listens). The caller starts the manager and calls app.listen(). */
export async function buildServer(config: ProxyConfig, deps: ServerDeps): Promise<BuiltServer> {
  const { managers, logger } = deps
  const counters = newCounters()
  const metrics = deps.metrics ?? new Metrics()
  for (const m of managers.values()) metrics.watch(m)
  const onRefuse = (code: ErrorCode): void => {
    metrics.refused(code)
    counters.refused[code] = (counters.refused[code] ?? 0) + 1
  }
  const guard = createGuard(config, onRefuse, deps.adminKey)
  let fastifyHandler: RequestListener | undefined
  const extraServers: Server[] = []
  const dispatcher =
    deps.dispatcher ??
    createAgent({
      connections: config.proxy.connections,
      headersTimeoutMs: config.proxy.upstreamTimeoutMs,
      bodyTimeoutMs: config.proxy.upstreamTimeoutMs,
      connectTimeoutMs: config.proxy.connectTimeoutMs,
      ca: config.tls.ca,
    })

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // no child logger per request (each would re-apply the redaction setup): request lines carry their own fields
    childLoggerFactory: (parent) => parent,
    return503OnClosing: true,
    schemaController: NO_ROUTE_SCHEMAS,
    forceCloseConnections: 'idle',
    requestTimeout: 0,
    // Fastify's own parse errors (bad percent-encoding...) get a stable code too
    frameworkErrors: (err, _request, reply) => {
      sendError(reply, new ProxyError('bad_request', `malformed request: ${err.message.slice(0, 100)}`))
    },
    serverFactory: (handler) => {
      fastifyHandler = handler
      return createGuardedServer(guard, handler, onRefuse, config.admin.port === undefined ? 'all' : 'proxy')
    },
  })
  app.decorateRequest('proxyState', null)
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, new ProxyError('method_forbidden', `${request.method} is not supported on this path`))
  })

  /** True (once per request, counted and logged at debug) when the caller went away: its fault, not the proxy's. */
  const aborted = new WeakSet<FastifyRequest>()
  const clientAborted = (request: FastifyRequest, err: unknown): boolean => {
    if (!callerGone(request)) return false
    if (aborted.has(request)) return true
    aborted.add(request)
    const route = request.proxyState?.route ?? 'none'
    counters.clientAborts++
    metrics.clientAborted(route)
    request.log.debug(
      { event: 'request.client_aborted', method: request.method, route, code: (err as { code?: unknown })?.code },
      'the client closed the connection before the answer',
    )
    return true
  }

  app.setErrorHandler((err, request, reply) => {
    if (clientAborted(request, err)) {
      sendError(reply, new ProxyError('bad_request', 'the client closed the connection'))
      return
    }
    sendError(reply, toProxyError(err, request))
  })

  registerAdmin(app, {
    managers,
    counters,
    config,
    metrics,
    ...(deps.adminKey ? { adminKey: deps.adminKey } : {}),
    startedAtMs: deps.startedAtMs ?? Date.now(),
  })

  const logRequests = config.log.requests
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.proxyState?.route
    if (route !== undefined) metrics.requestDone(route, reply.elapsedTime / 1000)
    // probes and scrapes are not worth a line each: admin requests log at debug
    if (logRequests && (route !== undefined || logger.isLevelEnabled('debug'))) {
      const q = request.url.indexOf('?')
      request.log[route === undefined ? 'debug' : 'info'](
        {
          event: 'request.completed',
          method: request.method,
          path: q < 0 ? request.url : request.url.slice(0, q),
          status: reply.statusCode,
          durationMs: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request',
      )
    }
    done()
  })

  const ctx: RouteContext = { dispatcher, config, counters, metrics, clientAborted }
  for (const route of config.routes) {
    const manager = managers.get(route.credential)
    if (!manager) throw new Error(`no token manager for credential ${route.credential}`)
    await registerRoute(app, route, manager, ctx)
  }

  app.addHook('onClose', async () => {
    await Promise.all(
      extraServers.map((srv) => {
        srv.closeAllConnections()
        return new Promise((resolve) => srv.close(resolve))
      }),
    )
    if (!deps.dispatcher) await dispatcher.close()
  })

  return {
    app,
    counters,
    metrics,
    createExtraServer(scope: ListenerScope = config.admin.port === undefined ? 'all' : 'proxy') {
      const srv = createGuardedServer(guard, fastifyHandler as RequestListener, onRefuse, scope)
      extraServers.push(srv)
      return srv
    },
  }
}

/** One @fastify/http-proxy instance: requests under route.prefix go to route.upstream with the manager's token. */
async function registerRoute(
  app: FastifyInstance,
  route: RouteConfig,
  manager: TokenManager,
  ctx: RouteContext,
): Promise<void> {
  const { dispatcher, config, counters, metrics, clientAborted } = ctx
  const upstream = new URL(route.upstream)
  const upstreamOrigin = upstream.origin
  /** Where the plugin mounts the route: its prefix without the trailing slash ('' for '/'). */
  const mountPrefix = route.prefix === '/' ? '' : route.prefix.replace(/\/$/, '')
  const localKeyHeader = config.security.localKeyHeader
  // local credentials (the local key, the admin key) never leave this host
  const dropped = new Set([...HOP_BY_HOP_REQUEST_HEADERS, 'cookie', 'authorization', localKeyHeader, ADMIN_KEY_HEADER])
  const replayLimit = config.proxy.replayBodyLimitBytes

  // slow or stuck answers hold their slot; the others wait a bounded time for one, then get 503
  const slots = new Slots(config.proxy.connections, config.proxy.queueTimeoutMs)
  const hold = (reply: FastifyReply, release: Release): void => {
    // 'close' comes once the answer is sent or the caller is gone, either way the upstream is done with it
    if (reply.raw.destroyed || reply.raw.writableFinished) release()
    else reply.raw.once('close', release)
  }

  /** Fast path: a free slot, a held token and no body to read means no promise at all. */
  function preHandler(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    counters.requests++
    const release = slots.tryAcquire()
    if (release === undefined) {
      slots.wait().then((granted) => {
        if (granted === undefined) {
          counters.upstreamBusy++
          request.log.debug({ event: 'upstream.busy', route: route.prefix }, 'no upstream slot came free in time')
          done(
            new ProxyError(
              'upstream_busy',
              `all ${config.proxy.connections} upstream slots of route ${route.prefix} stayed busy for ${config.proxy.queueTimeoutMs / 1000} s`,
              {
                retryAfterS: 1,
                hint: 'Slow or stuck upstream answers hold them; retry shortly. See proxy.connections and proxy.queueTimeoutSeconds.',
              },
            ),
          )
          return
        }
        hold(reply, granted)
        // a caller that gave up while waiting is not forwarded
        if (callerGone(request)) done(new ProxyError('bad_request', 'the client closed the connection'))
        else withSlot(request, done)
      }, done)
      return
    }
    hold(reply, release)
    withSlot(request, done)
  }

  function withSlot(request: FastifyRequest, done: (err?: Error) => void): void {
    const token = manager.peek()
    if (token !== undefined && request.body === undefined) {
      request.proxyState = newState(token.value)
      done()
      return
    }
    prepare(request, token?.value).then(() => done(), done)
  }

  function newState(token: string): ProxyRequestState {
    return {
      token,
      bufferedBody: undefined,
      replayable: true,
      replayed: false,
      dest: '',
      fromOptions: undefined,
      route: route.prefix,
    }
  }

  async function prepare(request: FastifyRequest, held: string | undefined): Promise<void> {
    let tokenValue = held
    if (tokenValue === undefined) {
      try {
        tokenValue = (await manager.get()).value
      } catch (err) {
        counters.tokenErrors++
        throw err
      }
    }
    const state = newState(tokenValue)
    request.proxyState = state
    const body = request.body as Readable | undefined
    if (body && typeof (body as Readable).pipe === 'function') {
      const length = Number(request.headers['content-length'])
      const chunked = request.headers['transfer-encoding'] !== undefined
      if (!chunked && Number.isFinite(length) && length <= replayLimit) {
        state.bufferedBody = await readAll(body, replayLimit)
        request.body = Readable.from([state.bufferedBody])
      } else if (chunked) {
        // small chunked bodies are read whole first, so a malformed one never reaches the upstream
        const head = await readUpTo(body, replayLimit)
        if (head.complete) {
          state.bufferedBody = head.buffer
          request.body = Readable.from([head.buffer])
        } else {
          state.replayable = false
          request.body = Readable.from(concatStreams(head.buffer, body))
        }
      } else {
        state.replayable = false
      }
    }
  }

  // the plugin's types predate async pre-handlers; options are checked at run time by the plugin
  await app.register(fastifyHttpProxy as unknown as FastifyPluginAsync<Record<string, unknown>>, {
    upstream: upstreamOrigin + upstream.pathname.replace(/\/$/, ''),
    ...(mountPrefix === '' ? {} : { prefix: mountPrefix }),
    undici: dispatcher as unknown as Record<string, unknown>,
    disableRequestLogging: true,
    preHandler,
    handler(request: FastifyRequest, reply: FastifyReply, dest: string, options: unknown) {
      const state = request.proxyState as ProxyRequestState
      state.dest = dest
      state.fromOptions = options
      return reply.from(dest, options as never)
    },
    replyOptions: {
      retryDelay: () => null,
      rewriteRequestHeaders(request: FastifyRequest, headers: Record<string, unknown>) {
        // one pass into a fresh object: cheaper than `delete` (which sends V8 objects to dictionary mode)
        const out: Record<string, unknown> = {}
        for (const name in headers) if (!dropped.has(name)) out[name] = headers[name]
        out.authorization = `Bearer ${(request.proxyState as ProxyRequestState).token}`
        return out as never
      },
      rewriteHeaders(headers: Record<string, unknown>) {
        const location = headers.location
        if (typeof location === 'string' && location.startsWith(upstreamOrigin + '/')) {
          headers.location = mountPrefix + location.slice(upstreamOrigin.length)
        }
        return headers as never
      },
      onResponse(
        request: FastifyRequest,
        reply: FastifyReply,
        res: { statusCode: number; headers: Record<string, string | string[] | undefined>; stream: Readable },
      ) {
        const state = request.proxyState as ProxyRequestState
        metrics.upstream(route.prefix, res.statusCode)
        if (res.statusCode === 401) {
          if (state.replayable && !state.replayed) {
            replay(request, reply, res, state)
            return
          }
          // cannot replay (streamed body, or already replayed): pass the 401 on, but renew the token for the next caller
          manager.forceRefresh(state.token).catch(() => {})
        }
        const length = Number(res.headers['content-length'])
        if (length > 0 && length <= SMALL_BODY_BYTES) {
          // a small body is sent as one buffer: cheaper than piping a stream for a 1 KB JSON answer
          const chunks: Buffer[] = []
          res.stream.on('data', (c: Buffer) => chunks.push(c))
          res.stream.once('end', () => reply.send(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)))
          res.stream.once('error', (err: Error) => reply.send(err))
          return
        }
        reply.send(res.stream)
      },
      onError(reply: FastifyReply, { error }: { error: unknown }) {
        // an upload the caller aborted fails upstream too: that is the caller's abort, not an upstream failure
        if (clientAborted(reply.request, error)) {
          sendError(reply, new ProxyError('bad_request', 'the client closed the connection'))
          return
        }
        counters.upstreamErrors++
        metrics.upstream(route.prefix, 'error')
        const mapped = mapUpstreamError(error, upstream.host)
        reply.log.warn({ event: 'upstream.failed', route: route.prefix, err: mapped }, mapped.message)
        sendError(reply, mapped)
      },
    },
  })

  function replay(
    request: FastifyRequest,
    reply: FastifyReply,
    res: { stream: Readable },
    state: ProxyRequestState,
  ): void {
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
}

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    size += (chunk as Buffer).length
    if (size > limit) throw new ProxyError('bad_request', 'request body is longer than its Content-Length')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** Reads until the end or until more than `limit` bytes arrived. */
async function readUpTo(stream: Readable, limit: number): Promise<{ complete: boolean; buffer: Buffer }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer)
    size += (chunk as Buffer).length
    if (size > limit) return { complete: false, buffer: Buffer.concat(chunks) }
  }
  return { complete: true, buffer: Buffer.concat(chunks) }
}

/** What was read already, then the rest of the stream. */
async function* concatStreams(head: Buffer, rest: Readable): AsyncGenerator<Buffer> {
  yield head
  for await (const chunk of rest) yield chunk as Buffer
}

function toProxyError(err: unknown, request: FastifyRequest): ProxyError {
  if (err instanceof ProxyError) return err
  const status = (err as { statusCode?: number }).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ProxyError('bad_request', (err as Error).message, { cause: err })
  }
  request.log.error({ event: 'proxy.internal_error', err }, 'unexpected error')
  return new ProxyError('internal_error', 'unexpected error in the proxy', { cause: err })
}

export function sendError(reply: FastifyReply, err: ProxyError): void {
  if (reply.sent) return
  if (err.retryAfterS !== undefined) reply.header('retry-after', String(err.retryAfterS))
  reply.header('cache-control', 'no-store')
  reply.code(err.httpStatus).type('application/json; charset=utf-8').send(err.toBody())
}

export { ADMIN_PREFIX }
export type { ProxyCounters }
