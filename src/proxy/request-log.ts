// One line per completed request (admin requests at debug) and the request duration metric per route.
import type { FastifyInstance } from 'fastify'
import type { ProxyConfig } from '../config/types.js'
import type { Logger } from '../shared/log.js'
import type { Metrics } from '../admin/metrics.js'

/** Adds the onResponse hook that records durations and, when `log.requests` is on, logs `request.completed`. */
export function logCompletedRequests(
  app: FastifyInstance,
  config: ProxyConfig,
  logger: Logger,
  metrics: Metrics,
): void {
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
}
