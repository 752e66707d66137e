// Writes a ProxyError as the JSON error answer, and turns any other error into one.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ProxyError } from '../shared/errors.js'

/** A ProxyError as is; a Fastify 4xx as bad_request; anything else logged and answered internal_error. */
export function toProxyError(err: unknown, request: FastifyRequest): ProxyError {
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
