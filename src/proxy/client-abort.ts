// Tells a caller that went away from a proxy failure: such a request is counted once and logged at debug.
import type { FastifyRequest } from 'fastify'
import type { ProxyCounters } from '../admin/counters.js'
import type { Metrics } from '../admin/metrics.js'

/** Records a request whose caller went away (true), or returns false when the caller is still there. */
export type ClientAborted = (request: FastifyRequest, err: unknown) => boolean

/** The caller closed the connection (or reset it) before the request was read or answered. */
export function callerGone(request: FastifyRequest): boolean {
  const raw = request.raw
  return (
    (raw.destroyed && !raw.complete) ||
    raw.socket?.destroyed === true ||
    (raw as { aborted?: boolean }).aborted === true
  )
}

/** True (once per request, counted and logged at debug) when the caller went away: its fault, not the proxy's. */
export function clientAbortTracker(counters: ProxyCounters, metrics: Metrics): ClientAborted {
  const aborted = new WeakSet<FastifyRequest>()
  return (request, err) => {
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
}
