// The Fastify instance behind the guarded raw servers: logging, timeouts, framework errors, not-found and error answers.
import type { RequestListener } from 'node:http'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { ProxyConfig } from '../config/types.js'
import { ProxyError, type ErrorCode } from '../shared/errors.js'
import type { Logger } from '../shared/log.js'
import type { ClientAborted } from './client-abort.js'
import type { Guard } from './guards.js'
import { createGuardedServer } from './listeners.js'
import { NO_ROUTE_SCHEMAS } from './route-schemas.js'
import { sendError, toProxyError } from './send-error.js'

export interface ProxyApp {
  app: FastifyInstance
  /** Fastify's request handler, for further raw servers with the same guards. */
  handler(): RequestListener
}

/** Builds the Fastify instance on a guarded server; unknown methods get 405 and errors a JSON answer with a stable code. */
export function createApp(
  config: ProxyConfig,
  logger: Logger,
  guard: Guard,
  onRefuse: (code: ErrorCode) => void,
  clientAborted: ClientAborted,
): ProxyApp {
  let fastifyHandler: RequestListener | undefined
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
  app.setErrorHandler((err, request, reply) => {
    if (clientAborted(request, err)) {
      sendError(reply, new ProxyError('bad_request', 'the client closed the connection'))
      return
    }
    sendError(reply, toProxyError(err, request))
  })
  return { app, handler: () => fastifyHandler as RequestListener }
}
